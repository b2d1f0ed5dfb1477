//go:build linux

package dirfd_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRemoveIfSameOnFullFilesystem pins S8: on a filesystem where no
// private directory can be made (ENOSPC, here from inode exhaustion),
// RemoveIfSame still frees space in a directory nobody else can write,
// where fstatat-compare-unlinkat has no window against other users, and in
// a directory others can write it fails, saying why, and removes nothing.
func TestRemoveIfSameOnFullFilesystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	mnt := t.TempDir()
	if err := unix.Mount("racefree-full", mnt, "tmpfs", 0, "size=1m,nr_inodes=64,mode=0755"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	for _, step := range []func() error{
		func() error { return os.Mkdir(filepath.Join(mnt, "private"), 0o755) },
		func() error { return os.Mkdir(filepath.Join(mnt, "shared"), 0o777) },
		func() error { return os.Chmod(filepath.Join(mnt, "shared"), 0o777) },
		func() error { return os.WriteFile(filepath.Join(mnt, "private", "f"), []byte("x"), 0o644) },
		func() error { return os.WriteFile(filepath.Join(mnt, "shared", "f"), []byte("x"), 0o644) },
		func() error { return os.Mkdir(filepath.Join(mnt, "fill"), 0o755) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	fill := func() {
		t.Helper()
		for i := 0; ; i++ {
			err := os.WriteFile(filepath.Join(mnt, "fill", fmt.Sprint(os.Getpid(), "-", i)), nil, 0o644)
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Mkdir(filepath.Join(mnt, "probe"), 0o700); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("the filesystem is not full: mkdir: %v", err)
		}
	}
	d := openDir(t, mnt)
	remove := func(name string) error {
		h, err := d.OpenHandle(name)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		return d.RemoveIfSame(name, h)
	}

	fill()
	if err := remove("private/f"); err != nil {
		t.Errorf("RemoveIfSame in a private directory of a full filesystem: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "private", "f")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private/f is still there: %v", err)
	}

	fill() // the inode just freed
	if err := remove("shared/f"); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("RemoveIfSame in a shared directory of a full filesystem: %v, want an error wrapping ENOSPC", err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "shared", "f")); err != nil {
		t.Errorf("shared/f: %v, want it left in place", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
}
