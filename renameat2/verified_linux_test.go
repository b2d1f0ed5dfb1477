package renameat2_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/renameat2"
)

// objectFd opens the object at path itself, as a handle would.
func objectFd(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func sameObject(t *testing.T, fd int, path string) bool {
	t.Helper()
	var a, b unix.Stat_t
	if err := unix.Fstat(fd, &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(path, &b); err != nil {
		return false
	}
	return fallback.Same(&a, &b)
}

func noLeftovers(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), staging.Prefix) {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

// wantMethod: directories cannot be moved aside without the no-replace
// rename (disabled in the emulated profiles).
func wantMethod(isDir bool) fallback.Method {
	if isDir && emulated() {
		return fallback.CompareRename
	}
	return fallback.MoveAside
}

func TestRenameIfSameMovesItsObject(t *testing.T) {
	for _, name := range []string{"a", "d"} {
		dir, fd := fixture(t)
		h := objectFd(t, filepath.Join(dir, name))
		m, err := renameat2.RenameIfSame(fd, name, h, fd, "moved", 0)
		if err != nil {
			t.Fatalf("%s: %v (%v)", name, err, m)
		}
		if want := wantMethod(name == "d"); m != want {
			t.Errorf("%s: method %v, want %v", name, m, want)
		}
		if !sameObject(t, h, filepath.Join(dir, "moved")) {
			t.Errorf("%s: moved is not the object", name)
		}
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: old name still there: %v", name, err)
		}
		noLeftovers(t, dir)
	}
}

func TestRenameIfSameLeavesAnotherObject(t *testing.T) {
	for _, flags := range []renameat2.Flags{0, renameat2.NoReplace} {
		dir, fd := fixture(t)
		h := objectFd(t, filepath.Join(dir, "a"))
		// b takes a's name: the handle's object is gone from it.
		if err := os.Rename(filepath.Join(dir, "b"), filepath.Join(dir, "a")); err != nil {
			t.Fatal(err)
		}
		m, err := renameat2.RenameIfSame(fd, "a", h, fd, "moved", flags)
		if !errors.Is(err, fallback.ErrChanged) || m != fallback.MoveAside {
			t.Fatalf("flags %#x: got %v, %v; want MoveAside, ErrChanged", flags, m, err)
		}
		if content(t, dir, "a") != "B" {
			t.Error("the object under a is no longer b's")
		}
		if _, err := os.Lstat(filepath.Join(dir, "moved")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("something was moved: %v", err)
		}
		noLeftovers(t, dir)
	}
}

func TestRenameIfSameNoReplace(t *testing.T) {
	dir, fd := fixture(t)
	h := objectFd(t, filepath.Join(dir, "a"))
	m, err := renameat2.RenameIfSame(fd, "a", h, fd, "b", renameat2.NoReplace)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v (%v), want EEXIST", err, m)
	}
	if !sameObject(t, h, filepath.Join(dir, "a")) || content(t, dir, "b") != "B" {
		t.Fatal("a refused no-replace rename changed something")
	}
	noLeftovers(t, dir)
	// Without NoReplace an existing name is replaced, as rename(2) does.
	if _, err := renameat2.RenameIfSame(fd, "a", h, fd, "b", 0); err != nil {
		t.Fatal(err)
	}
	if content(t, dir, "b") != "A" {
		t.Fatal("b was not replaced")
	}
}

func TestRenameIfSameDirectoryStrict(t *testing.T) {
	dir, fd := fixture(t)
	h := objectFd(t, filepath.Join(dir, "d"))
	m, err := renameat2.RenameIfSame(fd, "d", h, fd, "e", renameat2.Strict)
	if emulated() {
		if !errors.Is(err, errors.ErrUnsupported) || m != fallback.None {
			t.Fatalf("got %v, %v; want None, ErrUnsupported", m, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "d")); err != nil {
			t.Fatalf("a refused rename moved d: %v", err)
		}
		return
	}
	if err != nil || m != fallback.MoveAside {
		t.Fatalf("got %v, %v; want MoveAside, nil", m, err)
	}
}

func TestRenameIfSameBadInput(t *testing.T) {
	dir, fd := fixture(t)
	h := objectFd(t, filepath.Join(dir, "a"))
	for _, tc := range []struct {
		old, new string
		flags    renameat2.Flags
	}{
		{"", "x", 0}, {"a", "", 0}, {".", "x", 0}, {"a", "..", 0}, {"a", "d/x", 0}, {"a/", "x", 0}, {"a\x00", "x", 0},
		{"a", "b", renameat2.Exchange}, {"a", "x", renameat2.Whiteout}, {"a", "x", 1 << 5},
	} {
		m, err := renameat2.RenameIfSame(fd, tc.old, h, fd, tc.new, tc.flags)
		if !errors.Is(err, syscall.EINVAL) || m != fallback.None {
			t.Errorf("RenameIfSame(%q, %q, %#x) = %v, %v; want None, EINVAL", tc.old, tc.new, tc.flags, m, err)
		}
	}
	if content(t, dir, "a") != "A" || content(t, dir, "b") != "B" {
		t.Error("bad input changed something")
	}
}
