package dirfd_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mountTmpfs mounts a fresh tmpfs with opts on a new directory and
// unmounts it when the test ends.
func mountTmpfs(t *testing.T, dir, opts string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
}

// TestWriteFileENOSPC: on a full filesystem WriteFile and a discarded
// CreateAtomic fail with ENOSPC, leave the old content as it was, and leave
// no staging directory behind.
func TestWriteFileENOSPC(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	mountTmpfs(t, mnt, "size=64k,mode=0755")
	old := bytes.Repeat([]byte("old "), 1024)
	if err := os.WriteFile(filepath.Join(mnt, "f"), old, 0o644); err != nil {
		t.Fatal(err)
	}
	filler, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = filler.Write(make([]byte, 4096))
	}
	filler.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v, want ENOSPC", err)
	}
	d := openDir(t, mnt)
	check := func(what string) {
		t.Helper()
		if data, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || !bytes.Equal(data, old) {
			t.Errorf("after %s: f changed (%d bytes, %v)", what, len(data), err)
		}
		if left := stagingLeftovers(t, mnt); len(left) != 0 {
			t.Errorf("after %s: staging leftovers %v", what, left)
		}
	}

	err = d.WriteFile("f", bytes.Repeat([]byte("new "), 8192), 0o644)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("WriteFile on a full tmpfs = %v, want ENOSPC", err)
	}
	check("WriteFile")

	f, err := d.CreateAtomic("f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte("new "), 8192)); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("AtomicFile.Write on a full tmpfs = %v, want ENOSPC", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	check("CreateAtomic, Write, Close")

	// With room again, the same call works: the failures were the space.
	if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile("f", []byte("new"), 0o644); err != nil {
		t.Errorf("WriteFile with room: %v", err)
	}
}

// TestRemoveStaleMountPoint: a directory that looks like our leftover but
// has a filesystem mounted on it is not entered or removed.
func TestRemoveStaleMountPoint(t *testing.T) {
	root := t.TempDir()
	mnt := filepath.Join(root, ".racefree-mounted")
	mountTmpfs(t, mnt, "size=64k,mode=0700")
	if err := os.WriteFile(filepath.Join(mnt, "data"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, root)
	if n, err := d.RemoveStale(0); err != nil || n != 0 {
		t.Errorf("RemoveStale(0) = %d, %v; want 0, nil", n, err)
	}
	if data, err := os.ReadFile(filepath.Join(mnt, "data")); err != nil || string(data) != "keep" {
		t.Errorf("the mounted filesystem's file = %q, %v", data, err)
	}
}

// TestWriteFileWriteOnlyDirectory: in a directory the caller may write and
// search but not read, the directory cannot be opened for its fsync;
// WriteFile makes the rename durable with syncfs instead, and still works.
func TestWriteFileWriteOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any directory; the re-run as uid 65534 covers this")
	}
	if profile() == "all" {
		t.Skip("RACEFREE_DISABLE=all: the portable walk opens directories O_RDONLY and needs read permission")
	}
	root := t.TempDir()
	buildTree(t, root, "dir drop\nfile drop/f old\nchmod drop 0311")
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "drop"), 0o755) })
	if _, err := os.ReadDir(filepath.Join(root, "drop")); err == nil {
		t.Fatal("a 0311 directory is readable: the test cannot show anything")
	}
	d := openDir(t, root)
	for _, name := range []string{"drop/f", "drop/new"} {
		if err := d.WriteFile(name, []byte("new"), 0o644); err != nil {
			t.Errorf("WriteFile(%s): %v", name, err)
		}
		if data, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(data) != "new" {
			t.Errorf("%s = %q, %v", name, data, err)
		}
	}
	os.Chmod(filepath.Join(root, "drop"), 0o755)
	if left := stagingLeftovers(t, filepath.Join(root, "drop")); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
}
