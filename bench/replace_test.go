//go:build linux

package bench

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/bench/internal/tree"
	"github.com/racefree/racefree/linkat"
)

// replaceImpl points dir/name at target, replacing the symlink there.
type replaceImpl struct {
	Name string
	// Start prepares one run in the directory (path and O_PATH descriptor)
	// and returns the replacement and a clean-up.
	Start func(dir string, dirfd int) (replace func(target, name string) error, done func())
}

var replaceImpls = []replaceImpl{
	{"racefree", func(dir string, dirfd int) (func(string, string) error, func()) {
		return func(target, name string) error { return linkat.ReplaceSymlink(target, dirfd, name) }, func() {}
	}},
	// A Replacer pays for its staging directory once, as `ln -sf` of many
	// links into one directory would.
	{"racefree-batch", func(dir string, dirfd int) (func(string, string) error, func()) {
		r, err := linkat.NewReplacer(dirfd)
		if err != nil {
			return func(string, string) error { return err }, func() {}
		}
		return r.ReplaceSymlink, func() { r.Close() }
	}},
	// What hand-written code does: there is a moment without the name.
	{"naive", func(dir string, dirfd int) (func(string, string) error, func()) {
		return func(target, name string) error {
			if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
				return err
			}
			return unix.Symlinkat(target, dirfd, name)
		}, func() {}
	}},
	// coreutils' `ln -sfT` style: a random name in the same (shared)
	// directory, then rename. Atomic for readers, but the temporary name is
	// open to other users.
	{"tmp+rename", func(dir string, dirfd int) (func(string, string) error, func()) {
		return func(target, name string) error {
			var b [6]byte
			rand.Read(b[:])
			tmp := name + ".tmp" + hex.EncodeToString(b[:])
			if err := unix.Symlinkat(target, dirfd, tmp); err != nil {
				return err
			}
			if err := unix.Renameat(dirfd, tmp, dirfd, name); err != nil {
				unix.Unlinkat(dirfd, tmp, 0)
				return err
			}
			return nil
		}, func() {}
	}},
	// renameio stages in a private temporary directory too, by path.
	{"renameio", func(dir string, dirfd int) (func(string, string) error, func()) {
		return func(target, name string) error { return renameio.Symlink(target, filepath.Join(dir, name)) }, func() {}
	}},
}

// replaceDir makes a directory with current -> v1 on tmpfs when there is
// one (the benchmark measures system calls, not a disk's metadata
// journal), and an O_PATH descriptor of it.
func replaceDir(tb testing.TB) (string, int) {
	tb.Helper()
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "racefree-bench-replace-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Symlink("v1", filepath.Join(dir, "current")); err != nil {
		tb.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(fd) })
	return dir, fd
}

// TestReplaceImpls checks that every implementation really replaces the
// link and leaves nothing else behind, so the benchmark cannot time an
// error path.
func TestReplaceImpls(t *testing.T) {
	for _, impl := range replaceImpls {
		t.Run(impl.Name, func(t *testing.T) {
			dir, dirfd := replaceDir(t)
			replace, done := impl.Start(dir, dirfd)
			for _, target := range []string{"v2", "v3"} {
				if err := replace(target, "current"); err != nil {
					t.Fatal(err)
				}
				if got, err := os.Readlink(filepath.Join(dir, "current")); err != nil || got != target {
					t.Fatalf("current -> %q (%v), want %q", got, err, target)
				}
			}
			done()
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Fatalf("%d entries left, want only current", len(entries))
			}
		})
	}
}

func BenchmarkReplaceSymlink(b *testing.B) {
	for _, impl := range replaceImpls {
		b.Run("impl="+impl.Name, func(b *testing.B) {
			dir, dirfd := replaceDir(b)
			replace, done := impl.Start(dir, dirfd)
			defer done()
			targets := [2]string{"v2", "v1"}
			i := 0
			run(b, func(*tree.Env, string) error {
				i++
				return replace(targets[i%2], "current")
			}, "current")
		})
	}
}
