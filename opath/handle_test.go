//go:build linux

package opath_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

// hTree creates, in a fresh directory (symlinks in its own path resolved),
// a file "f" (0644, "data"), a directory "d" with a file "d/x", a symlink
// "l" -> "f", and a file "zero" with mode 0, and returns the directory and
// a Dir on it.
func hTree(t *testing.T) (string, *dirfd.Dir) {
	t.Helper()
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	hMust(t, os.WriteFile(filepath.Join(tmp, "f"), []byte("data"), 0o644))
	hMust(t, os.Mkdir(filepath.Join(tmp, "d"), 0o755))
	hMust(t, os.WriteFile(filepath.Join(tmp, "d", "x"), nil, 0o644))
	hMust(t, os.Symlink("f", filepath.Join(tmp, "l")))
	hMust(t, os.WriteFile(filepath.Join(tmp, "zero"), nil, 0o644))
	hMust(t, os.Chmod(filepath.Join(tmp, "zero"), 0))
	d, err := dirfd.Open(tmp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return tmp, d
}

func hMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func hOpen(t *testing.T, d *dirfd.Dir, name string) *opath.Handle {
	t.Helper()
	h, err := d.OpenHandle(name)
	if err != nil {
		t.Fatalf("OpenHandle(%q): %v", name, err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func hMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

func TestHandleStat(t *testing.T) {
	tmp, d := hTree(t)
	for name, want := range map[string]fs.FileMode{"f": 0, "d": fs.ModeDir, "l": fs.ModeSymlink, "zero": 0} {
		h := hOpen(t, d, name)
		fi, err := h.Stat()
		if err != nil {
			t.Fatalf("Stat(%s): %v", name, err)
		}
		if fi.Mode().Type() != want {
			t.Errorf("Stat(%s).Mode() = %v, want type %v", name, fi.Mode(), want)
		}
		if fi.Name() != name {
			t.Errorf("Stat(%s).Name() = %q", name, fi.Name())
		}
		osfi, err := os.Lstat(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		if st, ost := fi.Sys().(*syscall.Stat_t), osfi.Sys().(*syscall.Stat_t); st.Dev != ost.Dev || st.Ino != ost.Ino {
			t.Errorf("Stat(%s) is not the object os.Lstat sees", name)
		}
	}
}

func TestHandleReadlink(t *testing.T) {
	_, d := hTree(t)
	if target, err := hOpen(t, d, "l").Readlink(); err != nil || target != "f" {
		t.Errorf("Readlink(l) = %q, %v; want f", target, err)
	}
	long := strings.Repeat("abcdefgh/", 200) // longer than a first 256-byte buffer
	hMust(t, d.Symlink(long, "long"))
	if target, err := hOpen(t, d, "long").Readlink(); err != nil || target != long {
		t.Errorf("Readlink(long) = %d bytes, %v; want %d", len(target), err, len(long))
	}
	for _, name := range []string{"f", "d"} {
		if _, err := hOpen(t, d, name).Readlink(); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Readlink(%s) = %v, want EINVAL", name, err)
		}
	}
}

func TestHandleChmod(t *testing.T) {
	tmp, d := hTree(t)
	t.Logf("fchmodat2 available: %v", capability.Has(capability.Fchmodat2))

	hMust(t, hOpen(t, d, "f").Chmod(0o600))
	if m := hMode(t, filepath.Join(tmp, "f")); m != 0o600 {
		t.Errorf("mode after Chmod(0600) = %v", m)
	}
	// A file with mode 0: O_PATH needs no permission on the object, and
	// the owner may chmod it.
	hMust(t, hOpen(t, d, "zero").Chmod(0o640))
	if m := hMode(t, filepath.Join(tmp, "zero")); m != 0o640 {
		t.Errorf("mode of zero after Chmod(0640) = %v", m)
	}
	hMust(t, hOpen(t, d, "d").Chmod(0o700))
	if m := hMode(t, filepath.Join(tmp, "d")); m != fs.ModeDir|0o700 {
		t.Errorf("mode of d after Chmod(0700) = %v", m)
	}

	// Renamed away: the change lands on the object, not on whatever now
	// has its old name.
	h := hOpen(t, d, "f")
	hMust(t, os.Rename(filepath.Join(tmp, "f"), filepath.Join(tmp, "moved")))
	hMust(t, os.WriteFile(filepath.Join(tmp, "f"), nil, 0o644))
	hMust(t, h.Chmod(0o604))
	if m := hMode(t, filepath.Join(tmp, "moved")); m != 0o604 {
		t.Errorf("renamed object's mode = %v, want 0604", m)
	}
	if m := hMode(t, filepath.Join(tmp, "f")); m != 0o644 {
		t.Errorf("new object at the old name changed: %v", m)
	}

	// A symlink handle: symlinks have no mode of their own on Linux; the
	// call must fail and must not reach the target.
	before := hMode(t, filepath.Join(tmp, "zero"))
	hMust(t, os.Symlink("zero", filepath.Join(tmp, "lz")))
	if err := hOpen(t, d, "lz").Chmod(0o777); err == nil {
		t.Errorf("Chmod of a symlink handle succeeded")
	}
	if m := hMode(t, filepath.Join(tmp, "zero")); m != before {
		t.Errorf("Chmod of a symlink handle changed its target: %v -> %v", before, m)
	}
}

func TestHandleChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown to another user needs root")
	}
	tmp, d := hTree(t)
	lstatOwner := func(name string) (uint32, uint32) {
		fi, err := os.Lstat(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return st.Uid, st.Gid
	}
	hMust(t, hOpen(t, d, "f").Chown(65534, 65534))
	if u, g := lstatOwner("f"); u != 65534 || g != 65534 {
		t.Errorf("owner after Chown = %d:%d", u, g)
	}
	// A symlink handle changes the link, never its target.
	hMust(t, hOpen(t, d, "l").Chown(1234, 1235))
	if u, g := lstatOwner("l"); u != 1234 || g != 1235 {
		t.Errorf("link owner after Chown = %d:%d", u, g)
	}
	if u, g := lstatOwner("f"); u != 65534 || g != 65534 {
		t.Errorf("Chown of the link changed its target: %d:%d", u, g)
	}
	// -1 leaves a value unchanged.
	hMust(t, hOpen(t, d, "f").Chown(-1, 0))
	if u, g := lstatOwner("f"); u != 65534 || g != 0 {
		t.Errorf("owner after Chown(-1, 0) = %d:%d", u, g)
	}
}

func TestHandleAccess(t *testing.T) {
	_, d := hTree(t)
	f := hOpen(t, d, "f")
	for _, mode := range []uint32{unix.F_OK, unix.R_OK, unix.W_OK, unix.R_OK | unix.W_OK} {
		if err := f.Access(mode); err != nil {
			t.Errorf("Access(f, %#o) = %v", mode, err)
		}
	}
	// 0644 has no execute bit for anyone, root included.
	if err := f.Access(unix.X_OK); !errors.Is(err, syscall.EACCES) {
		t.Errorf("Access(f, X_OK) = %v, want EACCES", err)
	}
	if err := hOpen(t, d, "d").Access(unix.X_OK | unix.R_OK); err != nil {
		t.Errorf("Access(d, R_OK|X_OK) = %v", err)
	}
	if os.Geteuid() != 0 {
		if err := hOpen(t, d, "zero").Access(unix.R_OK); !errors.Is(err, syscall.EACCES) {
			t.Errorf("Access(zero, R_OK) as non-root = %v, want EACCES", err)
		}
	}
}

func TestHandleReopen(t *testing.T) {
	tmp, d := hTree(t)
	h := hOpen(t, d, "f")
	f, err := h.Reopen(os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(data) != "data" {
		t.Errorf("read through Reopen = %q, %v", data, err)
	}
	// The reopened descriptor is close-on-exec.
	if f, err := h.Reopen(os.O_RDONLY); err == nil {
		flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("reopened descriptor flags %#x, %v: not close-on-exec", flags, err)
		}
		f.Close()
	}

	// Reopen follows the object across a rename.
	hMust(t, os.Rename(filepath.Join(tmp, "f"), filepath.Join(tmp, "f2")))
	hMust(t, os.WriteFile(filepath.Join(tmp, "f"), []byte("impostor"), 0o644))
	f, err = h.Reopen(os.O_RDWR)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("DA"), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if data, _ := os.ReadFile(filepath.Join(tmp, "f2")); string(data) != "DAta" {
		t.Errorf("write through Reopen after rename reached %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(tmp, "f")); string(data) != "impostor" {
		t.Errorf("the impostor at the old name changed: %q", data)
	}

	// A directory is reopened with openat(fd, ".").
	dh := hOpen(t, d, "d")
	df, err := dh.Reopen(os.O_RDONLY | unix.O_DIRECTORY)
	if err != nil {
		t.Fatal(err)
	}
	names, err := df.Readdirnames(-1)
	df.Close()
	if err != nil || len(names) != 1 || names[0] != "x" {
		t.Errorf("Readdirnames through Reopen = %v, %v", names, err)
	}
	if _, err := dh.Reopen(os.O_RDWR); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Reopen(dir, O_RDWR) = %v, want EISDIR", err)
	}

	// A symlink cannot be reopened for I/O.
	if _, err := hOpen(t, d, "l").Reopen(os.O_RDONLY); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Reopen(symlink) = %v, want ELOOP", err)
	}

	// Permission is checked as open(2) would.
	if os.Geteuid() != 0 {
		if _, err := hOpen(t, d, "zero").Reopen(os.O_RDONLY); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Reopen(zero) as non-root = %v, want EACCES", err)
		}
	}
}

func TestHandlePath(t *testing.T) {
	tmp, d := hTree(t)
	h := hOpen(t, d, "d")
	if p, err := h.Path(); err != nil || p != filepath.Join(tmp, "d") {
		t.Errorf("Path() = %q, %v; want %q", p, err, filepath.Join(tmp, "d"))
	}
	if p, err := hOpen(t, d, "l").Path(); err != nil || p != filepath.Join(tmp, "l") {
		t.Errorf("Path() of a symlink handle = %q, %v; want the link", p, err)
	}
	hMust(t, os.Rename(filepath.Join(tmp, "d"), filepath.Join(tmp, "d2")))
	if p, err := h.Path(); err != nil || p != filepath.Join(tmp, "d2") {
		t.Errorf("Path() after rename = %q, %v; want %q", p, err, filepath.Join(tmp, "d2"))
	}
	fh := hOpen(t, d, "f")
	hMust(t, os.Remove(filepath.Join(tmp, "f")))
	if p, err := fh.Path(); err == nil {
		t.Errorf("Path() after unlink = %q, want an error", p)
	}
	if fi, err := fh.Stat(); err != nil || fi.Sys().(*syscall.Stat_t).Nlink != 0 {
		t.Errorf("Stat() after unlink = %v, %v; want the unlinked object", fi, err)
	}
}

func TestHandleClose(t *testing.T) {
	_, d := hTree(t)
	h, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatalf("first Close: %v", err)
	}
	if err := h.Close(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Close = %v, want os.ErrClosed", err)
	}
	// Use after Close fails (with os.ErrClosed: see
	// TestHandleUseAfterCloseIsErrClosed).
	if _, err := h.Stat(); err == nil {
		t.Errorf("Stat after Close succeeded")
	}
	if err := h.Chmod(0o600); err == nil {
		t.Errorf("Chmod after Close succeeded")
	}
	if _, err := h.Readlink(); err == nil {
		t.Errorf("Readlink after Close succeeded")
	}
}

// TestHandleUseAfterCloseIsErrClosed: every method of a closed Handle fails
// with the documented os.ErrClosed, not with the poll package's internal
// "use of closed file", which callers cannot match.
func TestHandleUseAfterCloseIsErrClosed(t *testing.T) {
	_, d := hTree(t)
	h, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	h.Close()
	if _, err := h.Stat(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Stat after Close = %v, want os.ErrClosed", err)
	}
	if err := h.Chmod(0o600); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Chmod after Close = %v, want os.ErrClosed", err)
	}
}

// TestHandleProcfsChmod runs this package's Handle tests again in a child
// with RACEFREE_DISABLE=fchmodat2 (the environment is read once per
// process), so that Chmod goes through the hardened /proc/thread-self/fd.
func TestHandleProcfsChmod(t *testing.T) {
	const childEnv = "RACEFREE_OPATH_TEST_CHILD"
	if os.Getenv(childEnv) != "" {
		if capability.Has(capability.Fchmodat2) {
			t.Fatal("RACEFREE_DISABLE=fchmodat2 did not disable fchmodat2")
		}
		return
	}
	args := []string{"-test.run=^TestHandle", "-test.count=1", "-test.v"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1", capability.EnvDisable+"=fchmodat2")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tests with RACEFREE_DISABLE=fchmodat2 failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "fchmodat2 available: false") {
		t.Errorf("the child did not run the procfs route:\n%s", out)
	}
	t.Logf("RACEFREE_DISABLE=fchmodat2 child passed:\n%s", out)
}
