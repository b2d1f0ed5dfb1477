package fallback_test

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
)

// noReplace is the put-back rename these tests use: the kernel's.
func noReplace(olddirfd int, oldname string, newdirfd int, newname string) error {
	return unix.Renameat2(olddirfd, oldname, newdirfd, newname, unix.RENAME_NOREPLACE)
}

type fixture struct {
	dir string
	fd  int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &fixture{dir, fd}
}

func (f *fixture) path(name string) string { return filepath.Join(f.dir, name) }

// make creates name as a file (with content) or, if content is "/", an
// empty directory, and returns its stat.
func (f *fixture) make(t *testing.T, name, content string) unix.Stat_t {
	t.Helper()
	var err error
	if content == "/" {
		err = os.Mkdir(f.path(name), 0o755)
	} else {
		err = os.WriteFile(f.path(name), []byte(content), 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return f.stat(t, name)
}

func (f *fixture) stat(t *testing.T, name string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(f.path(name), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// entries lists the directory, staging leftovers included.
func (f *fixture) entries(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestTakeAsideAndPutBack(t *testing.T) {
	for _, content := range []string{"theirs", "/"} {
		f := newFixture(t)
		st := f.make(t, "x", content)
		a, err := fallback.TakeAside(f.fd, "x", &st, noReplace)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(f.path("x")); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("x is still there while aside: %v", err)
		}
		if !a.Same() {
			t.Fatal("the object aside is not the one that was under the name")
		}
		if err := a.PutBack(fallback.ErrChanged); err != fallback.ErrChanged {
			t.Fatalf("PutBack = %v, want ErrChanged itself", err)
		}
		if now := f.stat(t, "x"); !fallback.Same(&now, &st) {
			t.Fatal("x is not the original object after PutBack")
		}
		if e := f.entries(t); len(e) != 1 {
			t.Fatalf("entries after PutBack: %v, want just x", e)
		}
	}
}

// TestPutBackKeepsBothWhenTheNameWasTaken makes the conflict happen on
// purpose: the name is taken while the object is aside. Both objects
// survive: the newcomer under the name, the one aside under a conflict
// name that the error gives.
func TestPutBackKeepsBothWhenTheNameWasTaken(t *testing.T) {
	for _, content := range []string{"theirs", "/"} {
		f := newFixture(t)
		st := f.make(t, "x", content)
		a, err := fallback.TakeAside(f.fd, "x", &st, noReplace)
		if err != nil {
			t.Fatal(err)
		}
		newcomer := f.make(t, "x", "newcomer")
		err = a.PutBack(fallback.ErrChanged)
		var ce *fallback.ConflictError
		if !errors.As(err, &ce) || !errors.Is(err, fallback.ErrChanged) {
			t.Fatalf("PutBack = %v, want a *ConflictError wrapping ErrChanged", err)
		}
		t.Logf("%v", err)
		if !strings.HasPrefix(ce.Name, fallback.ConflictPrefix) || strings.Contains(ce.Name, "/") {
			t.Fatalf("kept as %q, want a %s name in the same directory", ce.Name, fallback.ConflictPrefix)
		}
		if kept := f.stat(t, ce.Name); !fallback.Same(&kept, &st) {
			t.Fatal("the conflict name does not hold the object that was aside")
		}
		if now := f.stat(t, "x"); !fallback.Same(&now, &newcomer) {
			t.Fatal("the newcomer under x was replaced")
		}
		if e := f.entries(t); len(e) != 2 {
			t.Fatalf("entries: %v, want x and the conflict name only (no stage left)", e)
		}
	}
}

// TestFinishFailurePutsBack: when the action on the object aside fails,
// the object returns to its name and the action's error is returned.
func TestFinishFailurePutsBack(t *testing.T) {
	f := newFixture(t)
	st := f.make(t, "x", "mine")
	a, err := fallback.TakeAside(f.fd, "x", &st, noReplace)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Finish(func(int, string) error { return unix.EXDEV })
	if err != unix.EXDEV {
		t.Fatalf("Finish = %v, want EXDEV", err)
	}
	if now := f.stat(t, "x"); !fallback.Same(&now, &st) {
		t.Fatal("x is not back")
	}
}

func TestUnlinkAside(t *testing.T) {
	f := newFixture(t)
	d := f.make(t, "d", "/")
	full := f.make(t, "full", "/")
	if err := os.WriteFile(f.path("full/f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := fallback.TakeAside(f.fd, "d", &d, noReplace)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Unlink(); err != nil {
		t.Fatal(err)
	}
	a, err = fallback.TakeAside(f.fd, "full", &full, noReplace)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Unlink(); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("Unlink of a non-empty directory = %v, want ENOTEMPTY", err)
	}
	if e := f.entries(t); len(e) != 1 || e[0] != "full" {
		t.Fatalf("entries %v, want [full]", e)
	}
}

func TestTakeAsideMissing(t *testing.T) {
	f := newFixture(t)
	var none unix.Stat_t
	if _, err := fallback.TakeAside(f.fd, "missing", &none, noReplace); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want ENOENT", err)
	}
	if e := f.entries(t); len(e) != 0 {
		t.Fatalf("left %v", e)
	}
}

func TestIfSame(t *testing.T) {
	f := newFixture(t)
	mine := f.make(t, "x", "mine")
	f.make(t, "y", "other")
	called := 0
	act := func() error { called++; return nil }
	if err := fallback.IfSame(f.fd, "y", &mine, act); err != fallback.ErrChanged || called != 0 {
		t.Fatalf("IfSame on another object = %v with %d calls, want ErrChanged and none", err, called)
	}
	if err := fallback.IfSame(f.fd, "x", &mine, act); err != nil || called != 1 {
		t.Fatalf("IfSame on the object = %v with %d calls, want nil and one", err, called)
	}
	if err := fallback.IfSame(f.fd, "missing", &mine, act); !errors.Is(err, fs.ErrNotExist) || called != 1 {
		t.Fatalf("IfSame on a missing name = %v, want ENOENT", err)
	}
}

func TestLinkUnlink(t *testing.T) {
	f := newFixture(t)
	st := f.make(t, "a", "A")
	f.make(t, "b", "B")
	f.make(t, "d", "/")
	if err := fallback.LinkUnlink(f.fd, "a", f.fd, "b"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("onto an existing name: %v, want EEXIST", err)
	}
	if err := fallback.LinkUnlink(f.fd, "a", f.fd, "c"); err != nil {
		t.Fatal(err)
	}
	if now := f.stat(t, "c"); !fallback.Same(&now, &st) || now.Nlink != 1 {
		t.Fatalf("c is not a with one link (nlink %d)", now.Nlink)
	}
	if err := fallback.LinkUnlink(f.fd, "d", f.fd, "e"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("a directory: %v, want ErrUnsupported", err)
	}
}

func TestCheckName(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "a/", "/a", "a\x00b"} {
		if err := fallback.CheckName(name); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("CheckName(%q) = %v, want EINVAL", name, err)
		}
	}
	for _, name := range []string{"a", "...", ".a", staging.Prefix + "x", "a b"} {
		if err := fallback.CheckName(name); err != nil {
			t.Errorf("CheckName(%q) = %v", name, err)
		}
	}
}
