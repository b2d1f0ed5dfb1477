//go:build unix

package unlinkat_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/unlinkat"
)

// openDir opens dir for *at calls.
func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// handle opens the object at path itself (never a symlink's target).
func handle(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func mustWrite(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustMkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// wantMethod is the sequence RemoveIfSame must pick for our own object in
// this process's capability profile.
func wantMethod(t *testing.T, fd int) fallback.Method {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	if capability.Has(capability.Funlinkat) {
		return fallback.Funlinkat
	}
	if ok, _ := fallback.CanMoveAside(fd, &st); ok {
		return fallback.MoveAside
	}
	return fallback.CompareUnlink
}

// leftovers lists the staging entries (not conflict names) in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), staging.Prefix) && !strings.HasPrefix(e.Name(), fallback.ConflictPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestMethodsPerProfile(t *testing.T) {
	// On Linux with everything available both kinds of object are moved
	// aside; without the no-replace rename a directory cannot be.
	if capability.Has(capability.Funlinkat) || os.Getenv(capability.EnvDisable) == "" && !capability.Has(capability.RenameNoReplace) {
		t.Skip("not a Linux profile")
	}
	dir := t.TempDir()
	mustMkdir(t, filepath.Join(dir, "d"))
	var st unix.Stat_t
	fd := handle(t, filepath.Join(dir, "d"))
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	ok, why := fallback.CanMoveAside(fd, &st)
	if want := capability.Has(capability.RenameNoReplace); ok != want {
		t.Errorf("CanMoveAside(directory) = %v (%s), want %v in profile %q", ok, why, want, os.Getenv(capability.EnvDisable))
	}
}

func TestRemoveIfSameRemovesItsObject(t *testing.T) {
	for _, kind := range []string{"file", "dir"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "x")
			if kind == "file" {
				mustWrite(t, p, "mine")
			} else {
				mustMkdir(t, p)
			}
			fd := handle(t, p)
			want := wantMethod(t, fd)
			m, err := unlinkat.RemoveIfSame(openDir(t, dir), "x", fd, false)
			if err != nil {
				t.Fatalf("RemoveIfSame: %v (%v)", err, m)
			}
			if m != want {
				t.Errorf("method %v, want %v", m, want)
			}
			if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("x still there: %v", err)
			}
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil || kind == "file" && st.Nlink != 0 {
				t.Errorf("the object still has %d links (%v)", st.Nlink, err)
			}
			if l := leftovers(t, dir); len(l) > 0 {
				t.Errorf("leftovers %v", l)
			}
		})
	}
}

func TestRemoveIfSameLeavesAnotherObject(t *testing.T) {
	for _, kind := range []string{"file", "dir"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			p, other := filepath.Join(dir, "x"), filepath.Join(dir, "other")
			if kind == "file" {
				mustWrite(t, p, "mine")
				mustWrite(t, other, "theirs")
			} else {
				mustMkdir(t, p)
				mustMkdir(t, other)
				mustWrite(t, filepath.Join(other, "inside"), "theirs")
			}
			fd := handle(t, p)
			want := wantMethod(t, fd)
			// The name now refers to someone else's object (rename(2)
			// replaces our empty directory too; os.Rename would refuse).
			if err := unix.Rename(other, p); err != nil {
				t.Fatal(err)
			}
			before, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			m, err := unlinkat.RemoveIfSame(openDir(t, dir), "x", fd, false)
			if !errors.Is(err, fallback.ErrChanged) {
				t.Fatalf("RemoveIfSame = %v (%v), want ErrChanged", err, m)
			}
			var ce *fallback.ConflictError
			if errors.As(err, &ce) {
				t.Errorf("nobody took the name meanwhile, yet: %v", err)
			}
			if m != want {
				t.Errorf("method %v, want %v", m, want)
			}
			after, err := os.Lstat(p)
			if err != nil || !os.SameFile(before, after) {
				t.Fatalf("their object is no longer under the name: %v", err)
			}
			if l := leftovers(t, dir); len(l) > 0 {
				t.Errorf("leftovers %v", l)
			}
		})
	}
}

func TestRemoveIfSameMissingName(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	mustWrite(t, p, "mine")
	fd := handle(t, p)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := unlinkat.RemoveIfSame(openDir(t, dir), "x", fd, false); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want ENOENT", err)
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("leftovers %v", l)
	}
}

func TestRemoveIfSameNonEmptyDirectoryStays(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d")
	mustMkdir(t, p)
	mustWrite(t, filepath.Join(p, "f"), "content")
	fd := handle(t, p)
	m, err := unlinkat.RemoveIfSame(openDir(t, dir), "d", fd, false)
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("got %v (%v), want ENOTEMPTY", err, m)
	}
	if data, err := os.ReadFile(filepath.Join(p, "f")); err != nil || string(data) != "content" {
		t.Fatalf("d/f after a refused removal: %q, %v", data, err)
	}
	if l := leftovers(t, dir); len(l) > 0 {
		t.Errorf("leftovers %v", l)
	}
}

func TestRemoveIfSameStrict(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "d")
	mustMkdir(t, p)
	fd := handle(t, p)
	want := wantMethod(t, fd)
	m, err := unlinkat.RemoveIfSame(openDir(t, dir), "d", fd, true)
	if want == fallback.CompareUnlink {
		if !errors.Is(err, errors.ErrUnsupported) || m != fallback.None {
			t.Fatalf("strict with only %v available: got %v, %v; want ErrUnsupported", want, m, err)
		}
		if _, err := os.Lstat(p); err != nil {
			t.Fatalf("a refused removal removed d: %v", err)
		}
		return
	}
	if err != nil || m != want {
		t.Fatalf("strict: got %v, %v; want %v, nil", m, err, want)
	}
}

func TestRemoveIfSameBadInput(t *testing.T) {
	dir := t.TempDir()
	mustWrite(t, filepath.Join(dir, "f"), "x")
	dfd := openDir(t, dir)
	fd := handle(t, filepath.Join(dir, "f"))
	for _, name := range []string{"", ".", "..", "a/b", "f/", "/f", "f\x00"} {
		m, err := unlinkat.RemoveIfSame(dfd, name, fd, false)
		if !errors.Is(err, syscall.EINVAL) || m != fallback.None {
			t.Errorf("RemoveIfSame(%q) = %v, %v; want None, EINVAL", name, m, err)
		}
	}
	if m, err := unlinkat.RemoveIfSame(dfd, "f", -1, false); !errors.Is(err, syscall.EBADF) || m != fallback.None {
		t.Errorf("RemoveIfSame with a bad descriptor = %v, %v; want None, EBADF", m, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "f")); err != nil {
		t.Errorf("bad input removed f: %v", err)
	}
}

func TestMethodString(t *testing.T) {
	for m, want := range map[fallback.Method]string{
		fallback.None:          "none",
		fallback.Funlinkat:     "funlinkat",
		fallback.MoveAside:     "move-aside",
		fallback.CompareUnlink: "fstatat-compare-unlinkat",
		fallback.CompareRename: "fstatat-compare-renameat",
		fallback.Method(42):    "Method(42)",
	} {
		if got := m.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", m, got, want)
		}
	}
}
