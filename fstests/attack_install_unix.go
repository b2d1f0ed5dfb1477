//go:build unix

package fstests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
)

// The partial install: a package manager or deploy tool replaces the tree
// root/app, version after version, while programs use it. Copying the new
// files into place one by one (or removing the old tree and renaming the
// new one in) lets a program see a tree that is half old and half new, a
// file cut short, or no tree at all. The attacker is, again, only the
// readers: two goroutines that pin root/app (open it as a directory, as a
// program starting up in it does) and read every file through that
// descriptor. An escape is one pinned tree holding files of two versions,
// a torn file, a missing tree, or a file missing from the tree that is
// still the live one (a reader still in a tree Install has retired may
// find its files gone: that tree was whole when pinned and no longer has a
// name). G5 says every reader sees the whole old tree or the whole new one.
func init() {
	register(attack{name: "install", order: 52, run: runInstall})
}

// installFiles is the number of files of each version of the tree: few,
// so that installs are many.
const installFiles = 8

func installFile(i int) string { return "f" + strconv.Itoa(i) }

func installContent(v int64) []byte { return []byte("version " + strconv.FormatInt(v, 10) + "\n") }

func runInstall(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	skipIfForgetsReplaced(t, dir)
	s := newSentinel(t, dir)
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatalf("fstests: install: %v", err)
	}
	app := filepath.Join(root, "app")

	var install func(v int64) error
	layout := "copy into place"
	switch side {
	case Naive:
		install = func(v int64) error {
			if err := os.MkdirAll(app, 0o755); err != nil {
				return err
			}
			for i := range installFiles {
				if err := os.WriteFile(filepath.Join(app, installFile(i)), installContent(v), 0o644); err != nil {
					return err
				}
			}
			return nil
		}
	case Racefree:
		d, err := dirfd.Open(root)
		if err != nil {
			t.Fatalf("fstests: install: %v", err)
		}
		defer d.Close()
		var res dirfd.InstallResult
		install = func(v int64) error {
			err := d.Install("app", func(stage *dirfd.Dir) error {
				for i := range installFiles {
					// Not WriteFile: Install flushes the whole tree once.
					f, err := stage.OpenFile(installFile(i), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
					if err != nil {
						return err
					}
					_, err = f.Write(installContent(v))
					if cerr := f.Close(); err == nil {
						err = cerr
					}
					if err != nil {
						return err
					}
				}
				return nil
			}, dirfd.Result(&res))
			layout = res.Layout.String() + " layout"
			return err
		}
	}
	if err := install(0); err != nil {
		t.Fatalf("fstests: install: %s victim, first install: %v", side, err)
	}

	var retired atomic.Int64
	rd := startReaders(2, func() (string, error) { return readInstalled(app, &retired) })
	var ops int64
	for b.more(ops, rd.escapes.Load()) {
		ops++
		if err := install(ops); err != nil {
			t.Errorf("fstests: install: %s victim, install %d: %v", side, ops, err)
			break
		}
	}
	rd.halt()
	if err := rd.err(); err != nil {
		t.Errorf("fstests: install: reader: %v", err)
	}
	r := Result{Ops: ops, Escapes: rd.escapes.Load()}
	r.Moves = rd.reads.Load()
	r.Detail = fmt.Sprintf("%d installs (%s), %d trees read, %d retired while read", ops, layout, r.Moves, retired.Load())
	r.addEscapes(rd.first(), s.changes())
	return r
}

// readInstalled pins the tree at app and reads all its files, and says
// what escape it saw, if any. A tree that stopped being app's while it was
// read, and lost files, is counted in retired.
func readInstalled(app string, retired *atomic.Int64) (string, error) {
	tree, err := os.Open(app)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "a reader found app missing", nil
	case err != nil:
		return "", err
	}
	defer tree.Close()
	fd := int(tree.Fd())
	seen := ""
	for i := range installFiles {
		name := installFile(i)
		data, err := readAt(fd, name)
		switch {
		case errors.Is(err, unix.ENOENT):
			live, err := stillLive(tree, app)
			if err != nil {
				return "", err
			}
			if live {
				return "the live tree app has no " + name, nil
			}
			retired.Add(1)
			return "", nil
		case err != nil:
			return "", &os.PathError{Op: "read", Path: filepath.Join(app, name), Err: err}
		case !strings.HasPrefix(string(data), "version ") || !strings.HasSuffix(string(data), "\n"):
			return fmt.Sprintf("a reader found app/%s torn: %q", name, data), nil
		case seen == "":
			seen = string(data)
		case string(data) != seen:
			return fmt.Sprintf("one pinned tree held %q and %s %q", strings.TrimSpace(seen), name, strings.TrimSpace(string(data))), nil
		}
	}
	return "", nil
}

// stillLive tells whether the pinned tree is still what app names.
func stillLive(tree *os.File, app string) (bool, error) {
	pinned, err := tree.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Stat(app)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(pinned, now), nil
}

// readAt reads the small file name in the directory dirFd.
func readAt(dirFd int, name string) ([]byte, error) {
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(dirFd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 64)
	n, err := eintr.Retry1(func() (int, error) { return unix.Read(fd, buf) })
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}
