package unlinkat_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/unlinkat"
)

// mountChildEnv marks the child of TestRemoveAllLeavesMountsAlone, which
// runs in a mount namespace of its own so that nothing it mounts can
// outlive it, whatever happens to the test.
const mountChildEnv = "RACEFREE_UNLINKAT_MOUNT_CHILD"

// TestRemoveAllLeavesMountsAlone: a tmpfs, a bind mount of a directory of
// the same filesystem as the tree (same st_dev: only the mount ID tells it
// apart) and a bind-mounted file inside the tree are neither crossed nor
// removed; their contents survive, the error says EXDEV (EBUSY for the
// file), and everything else in the tree is removed.
func TestRemoveAllLeavesMountsAlone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("not root (euid %d): cannot mount; run the tests as root to cover mount points", os.Geteuid())
	}
	if os.Getenv(mountChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v", "-test.run=^TestRemoveAllLeavesMountsAlone$")
		cmd.Env = append(os.Environ(), mountChildEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / private in it
		out, err := cmd.CombinedOutput()
		t.Logf("child in a private mount namespace:\n%s", out)
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		return
	}
	for _, tc := range []struct {
		name    string
		mount   func(t *testing.T, src, target string)
		isFile  bool
		wantErr syscall.Errno
	}{
		{"tmpfs", func(t *testing.T, _, target string) { mustMount(t, "tmpfs", target, "tmpfs", 0) }, false, unix.EXDEV},
		{"bind-same-filesystem", func(t *testing.T, src, target string) { mustMount(t, src, target, "", unix.MS_BIND) }, false, unix.EXDEV},
		{"bind-file", func(t *testing.T, src, target string) { mustMount(t, src, target, "", unix.MS_BIND) }, true, unix.EBUSY},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			src := filepath.Join(tmp, "src")
			tree := filepath.Join(tmp, "tree")
			for _, d := range []string{"", "a", "a/b", "z", "z/y"} {
				mustMkdir(t, filepath.Join(tree, d))
			}
			for _, f := range []string{"a/1", "a/b/2", "z/3", "z/y/4"} {
				mustWrite(t, filepath.Join(tree, f), f)
			}
			mnt := filepath.Join(tree, "a/b/mnt")
			if tc.isFile {
				mustWrite(t, src, "source file")
				mustWrite(t, mnt, "")
			} else {
				mustMkdir(t, src)
				mustWrite(t, filepath.Join(src, "data"), "source dir")
				mustMkdir(t, mnt)
			}
			tc.mount(t, src, mnt)
			want, p := "source dir", filepath.Join(mnt, "data")
			switch {
			case tc.isFile:
				want, p = "source file", mnt
			case tc.name == "tmpfs":
				want = "on the mount"
				mustWrite(t, p, want)
			}
			var treeSt, mntSt unix.Stat_t
			if err := unix.Stat(tree, &treeSt); err != nil {
				t.Fatal(err)
			}
			if err := unix.Stat(mnt, &mntSt); err != nil {
				t.Fatal(err)
			}
			t.Logf("tree dev %d, mount point dev %d", treeSt.Dev, mntSt.Dev)

			err := unlinkat.RemoveAll(openDir(t, tmp), "tree")
			t.Logf("RemoveAll: %v", err)
			var pe *fs.PathError
			if !errors.Is(err, tc.wantErr) || !errors.As(err, &pe) || pe.Path != "tree/a/b/mnt" {
				t.Errorf("got %v, want a *fs.PathError for tree/a/b/mnt with %v", err, tc.wantErr)
			}
			if data, err := os.ReadFile(p); err != nil || string(data) != want {
				t.Errorf("the mount's content: %q, %v; want %q", data, err, want)
			}
			for _, gone := range []string{"a/1", "a/b/2", "z"} {
				if _, err := os.Lstat(filepath.Join(tree, gone)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("%s was not removed: %v", gone, err)
				}
			}
		})
	}
}

func mustMount(t *testing.T, src, target, fstype string, flags uintptr) {
	t.Helper()
	if err := unix.Mount(src, target, fstype, flags, ""); err != nil {
		t.Fatalf("mount %s on %s: %v", src, target, err)
	}
	t.Cleanup(func() { unix.Unmount(target, unix.MNT_DETACH) })
}
