//go:build racefree_osroot

package osroot_test

// The adapter the copied os.Root tests run against. Every name below
// stands in for one the copied files used from package os (os.Root,
// os.OpenRoot, ...) or from the toolchain's own test helpers, which only
// the standard library can import. Root is dirfd.Dir under os.Root's
// name: what the tests call, Dir must answer as os.Root does.

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/racefree/racefree/dirfd"
)

// Root is os.Root.
type Root struct{ *dirfd.Dir }

// OpenRoot is os.OpenRoot.
func OpenRoot(name string) (*Root, error) {
	d, err := dirfd.Open(name)
	if err != nil {
		return nil, err
	}
	return &Root{d}, nil
}

// OpenRoot is os.Root.OpenRoot, which Dir calls OpenDir.
func (r *Root) OpenRoot(name string) (*Root, error) {
	d, err := r.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &Root{d}, nil
}

// WriteFile is os.Root.WriteFile. Dir.WriteFile stages the file in a
// private directory next to name, which the Dir keeps for its next
// writes until it is closed (DESIGN.md S3); the copied tests compare the
// whole directory with what os.WriteFile leaves right after the call, so
// the write goes through a Dir of its own, closed at once, which takes its
// stage with it.
func (r *Root) WriteFile(name string, data []byte, perm os.FileMode) error {
	d, err := r.OpenDir(".")
	if err != nil {
		return err
	}
	err = d.WriteFile(name, data, perm)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// OpenInRoot is os.OpenInRoot.
func OpenInRoot(dir, name string) (*os.File, error) {
	r, err := OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Open(name)
}

// ErrPathEscapes is os.ErrPathEscapes.
var ErrPathEscapes = dirfd.ErrEscape

// SetStatHook is package os's test hook into its own stat calls. Dir never
// goes through them, so the test that uses it is on the skip list; this
// only lets the file compile.
func SetStatHook(t *testing.T, f func(f *os.File, name string) (os.FileInfo, error)) {
	t.Skip("hooks package os's internal stat; see the skip list")
}

// Atime is package os's test helper of the same name.
func Atime(fi os.FileInfo) time.Time {
	st := fi.Sys().(*syscall.Stat_t)
	return time.Unix(st.Atim.Unix())
}

// testenv stands in for the toolchain's internal/testenv: symlinks and
// hard links work on every system this runs on.
var testenv testenvChecks

type testenvChecks struct{}

func (testenvChecks) MustHaveLink(testing.TB)    {}
func (testenvChecks) MustHaveSymlink(testing.TB) {}

// newFile, checkUidGid and hasNoatime are os_test.go's and
// os_unix_test.go's helpers of the same names.

func newFile(t *testing.T) *os.File {
	t.Helper()
	f, err := os.CreateTemp("", "_Go_racefree_")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			t.Fatal(err)
		}
		if err := os.Remove(f.Name()); err != nil {
			t.Fatal(err)
		}
	})
	return f
}

func checkUidGid(t *testing.T, path string, uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("Lstat %q (looking for uid/gid %d/%d): %s", path, uid, gid, err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("Lstat %q: uid/gid %d/%d, want %d/%d", path, st.Uid, st.Gid, uid, gid)
	}
}

var hasNoatime = sync.OnceValue(func() bool {
	if runtime.GOOS != "netbsd" {
		return false
	}
	mounts, _ := os.ReadFile("/proc/mounts")
	return bytes.Contains(mounts, []byte("noatime"))
})
