package testfs

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
)

var renameFlags = []struct {
	feature capability.Feature
	flag    uint
}{
	{capability.RenameNoReplace, unix.RENAME_NOREPLACE},
	{capability.RenameExchange, unix.RENAME_EXCHANGE},
	{capability.RenameWhiteout, unix.RENAME_WHITEOUT},
}

// fuseLacks is what the FUSE cell refuses, and with which errno.
var fuseLacks = map[capability.Feature]unix.Errno{
	capability.RenameNoReplace: unix.EINVAL,
	capability.RenameExchange:  unix.EINVAL,
	capability.RenameWhiteout:  unix.EINVAL,
	capability.OTmpfile:        unix.EOPNOTSUPP,
}

// TestProbeDirLearnsPerFilesystem probes tmpfs, then the FUSE cell, in one
// process: the rename flags and O_TMPFILE are confirmed on tmpfs, missing
// on FUSE with the errno in the detail, and still there on tmpfs
// afterwards.
func TestProbeDirLearnsPerFilesystem(t *testing.T) {
	top, tmpfsFd := t, -1
	Each(t, func(t *testing.T, tfs FS) {
		if tfs.Name != tmpfsName && tfs.Name != fuseName {
			t.Skipf("the comparison is between %s and %s", tmpfsName, fuseName)
		}
		fd := openDir(t, tfs.Dir)
		report, err := capability.ProbeDir(fd)
		if err != nil {
			t.Fatal(err)
		}
		if tfs.Name == tmpfsName {
			// The sub-test's directory goes when it ends; the scratch
			// directory above it, on the same mount, stays.
			tmpfsFd = openDir(top, filepath.Dir(tfs.Dir))
		}
		for f, errno := range fuseLacks {
			if !capability.Has(f) {
				t.Logf("%s: the process lacks it (%s), so no filesystem can have it", f, capability.Probe().Status(f).Detail)
				continue
			}
			got := report.Status(f)
			t.Logf("%s on %s: available %v (%s)", f, tfs.Name, got.Available, got.Detail)
			switch tfs.Name {
			case tmpfsName:
				// Without root, a whiteout is refused for want of
				// CAP_MKNOD, which is no answer about the filesystem.
				if !got.Available || (os.Geteuid() == 0 && got.Detail != capability.DetailConfirmed) {
					t.Errorf("%s on tmpfs: available %v (%s), want confirmed", f, got.Available, got.Detail)
				}
			case fuseName:
				if got.Available || !strings.Contains(got.Detail, errno.Error()) {
					t.Errorf("%s on fuse: available %v (%s), want missing, naming %v", f, got.Available, got.Detail, errno)
				}
				if tmpfsFd >= 0 && !capability.HasAt(tmpfsFd, f) {
					t.Errorf("%s: missing on tmpfs too once fuse was probed: %s", f, capability.ForDir(tmpfsFd).Status(f).Detail)
				}
			}
		}
	})
}

// TestFuseRefusesOnlyRenameFlags checks the FUSE cell directly: every
// renameat2 flag fails with EINVAL (where the VFS does not answer first)
// and changes nothing, while rename, link, symlink and unlink work;
// O_TMPFILE is not supported.
func TestFuseRefusesOnlyRenameFlags(t *testing.T) {
	Each(t, func(t *testing.T, tfs FS) {
		if tfs.Name != fuseName {
			t.Skipf("checks the %s cell only", fuseName)
		}
		fd := openDir(t, tfs.Dir)
		create(t, fd, "a", "b")
		a, b := inode(t, fd, "a"), inode(t, fd, "b")

		// Onto an existing name, the VFS refuses before asking FUSE.
		if err := unix.Renameat2(fd, "a", fd, "b", unix.RENAME_NOREPLACE); err != unix.EEXIST {
			t.Errorf("RENAME_NOREPLACE onto an existing name: %v, want EEXIST", err)
		}
		for _, rf := range renameFlags {
			to := "new"
			if rf.flag == unix.RENAME_EXCHANGE {
				to = "b"
			}
			if err := unix.Renameat2(fd, "a", fd, to, rf.flag); err != unix.EINVAL {
				t.Errorf("renameat2(a, %s, %s): %v, want EINVAL", to, rf.feature, err)
			}
		}
		if inode(t, fd, "a") != a || inode(t, fd, "b") != b || exists(fd, "new") {
			t.Fatal("a refused rename changed the directory")
		}

		must(t, unix.Renameat(fd, "a", fd, "c"))
		must(t, unix.Renameat(fd, "c", fd, "b")) // replaces, as rename(2)
		if inode(t, fd, "b") != a || exists(fd, "a") || exists(fd, "c") {
			t.Errorf("plain renames: b is inode %d (want %d), a or c left behind", inode(t, fd, "b"), a)
		}

		must(t, unix.Linkat(fd, "b", fd, "l", 0))
		var st unix.Stat_t
		must(t, unix.Fstatat(fd, "l", &st, unix.AT_SYMLINK_NOFOLLOW))
		if st.Ino != a || st.Nlink != 2 {
			t.Errorf("link: inode %d with %d links, want %d with 2", st.Ino, st.Nlink, a)
		}
		must(t, unix.Symlinkat("b", fd, "s"))
		buf := make([]byte, 16)
		if n, err := unix.Readlinkat(fd, "s", buf); err != nil || string(buf[:n]) != "b" {
			t.Errorf("readlink of the symlink: %q, %v", buf[:n], err)
		}
		for _, name := range []string{"b", "l", "s"} {
			must(t, unix.Unlinkat(fd, name, 0))
		}
		must(t, unix.Mkdirat(fd, "d", 0o755))
		must(t, unix.Unlinkat(fd, "d", unix.AT_REMOVEDIR))
		if entries, err := os.ReadDir(tfs.Dir); err != nil || len(entries) != 0 {
			t.Errorf("after unlinking everything: %d entries, %v", len(entries), err)
		}

		if tmp, err := unix.Openat(fd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600); err != unix.EOPNOTSUPP {
			if err == nil {
				unix.Close(tmp)
			}
			t.Errorf("O_TMPFILE: %v, want EOPNOTSUPP", err)
		}
	})
}

// TestCellsKeepObjectsWhoseNameIsGone checks, on every cell, what a
// descriptor of an object still does once its name is replaced: the FUSE
// cell must answer as a local filesystem does (a loopback working by path
// would say ENOENT).
func TestCellsKeepObjectsWhoseNameIsGone(t *testing.T) {
	Each(t, func(t *testing.T, tfs FS) {
		fd := openDir(t, tfs.Dir)
		must(t, os.WriteFile(filepath.Join(tfs.Dir, "f"), []byte("old"), 0o644))
		must(t, os.WriteFile(filepath.Join(tfs.Dir, "g"), []byte("new"), 0o644))
		must(t, unix.Symlinkat("old", fd, "l"))
		must(t, unix.Symlinkat("new", fd, "m"))
		file := openPath(t, fd, "f")
		link := openPath(t, fd, "l")
		ino := inode(t, fd, "f")
		must(t, unix.Renameat(fd, "g", fd, "f"))
		must(t, unix.Renameat(fd, "m", fd, "l"))

		var st unix.Stat_t
		if err := unix.Fstat(file, &st); err != nil || st.Ino != ino || st.Nlink != 0 {
			t.Errorf("fstat of the replaced file: inode %d, %d links, %v; want inode %d, 0 links", st.Ino, st.Nlink, err, ino)
		}
		if b, err := os.ReadFile(procPath(file)); err != nil || string(b) != "old" {
			t.Errorf("reading the replaced file through its descriptor: %q, %v", b, err)
		}
		buf := make([]byte, 16)
		if n, err := unix.Readlinkat(link, "", buf); err != nil || string(buf[:n]) != "old" {
			t.Errorf("readlink of the replaced symlink: %q, %v", buf[:max(n, 0)], err)
		}
		moved := openPath(t, fd, "f")
		must(t, unix.Renameat(fd, "f", fd, "h"))
		// As root, linkat(AT_EMPTY_PATH) needs no procfs.
		must(t, unix.Linkat(moved, "", fd, "again", unix.AT_EMPTY_PATH))
		if b, err := os.ReadFile(filepath.Join(tfs.Dir, "again")); err != nil || string(b) != "new" {
			t.Errorf("the renamed file linked by descriptor: %q, %v", b, err)
		}
	})
}

func openPath(t *testing.T, dir int, name string) int {
	t.Helper()
	fd, err := unix.Openat(dir, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestCellsKeepOwnersAndModes creates as uid/gid 65534 in each cell: what
// the caller created is the caller's, on the FUSE cell's backing directory
// too (its server, root, creates it), and the kernel applies modes, owners
// and the sticky bit to the caller (on FUSE: default_permissions).
func TestCellsKeepOwnersAndModes(t *testing.T) {
	Each(t, func(t *testing.T, tfs FS) {
		if os.Geteuid() != 0 {
			t.Skip("not root: cannot act as another user")
		}
		dirs := []string{tfs.Dir}
		if tfs.Name == fuseName {
			mount := cellMount(t, fuseName)
			rel, err := filepath.Rel(mount, tfs.Dir)
			must(t, err)
			dirs = append(dirs, filepath.Join(filepath.Dir(mount), fuseBackingName, rel))
		}
		must(t, os.Chmod(tfs.Dir, 0o777|os.ModeSticky))
		must(t, os.WriteFile(filepath.Join(tfs.Dir, "root-only"), []byte("x"), 0o600))
		const nobody = 65534
		err := asUser(nobody, func() error {
			return errors.Join(
				os.Mkdir(filepath.Join(tfs.Dir, "d"), 0o700),
				os.WriteFile(filepath.Join(tfs.Dir, "d", "f"), []byte("x"), 0o640),
				os.Symlink("f", filepath.Join(tfs.Dir, "d", "s")))
		})
		must(t, err)
		for _, name := range []string{"d", "d/f", "d/s"} {
			for _, dir := range dirs {
				var st unix.Stat_t
				must(t, unix.Lstat(filepath.Join(dir, name), &st))
				if st.Uid != nobody || st.Gid != nobody {
					t.Errorf("%s is owned by %d:%d, want %d:%d", filepath.Join(dir, name), st.Uid, st.Gid, nobody, nobody)
				}
			}
		}
		var st unix.Stat_t
		must(t, unix.Stat(filepath.Join(tfs.Dir, "d", "f"), &st))
		if st.Mode&0o7777 != 0o640 {
			t.Errorf("d/f has mode %o, want 640 (the caller's umask is applied once, by the kernel)", st.Mode&0o7777)
		}
		err = asUser(nobody, func() error {
			_, err := os.ReadFile(filepath.Join(tfs.Dir, "root-only"))
			return err
		})
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("uid %d reading a 600 file of root's: %v, want EACCES", nobody, err)
		}
		err = asUser(nobody, func() error { return os.Remove(filepath.Join(tfs.Dir, "root-only")) })
		if !errors.Is(err, os.ErrPermission) {
			t.Errorf("uid %d removing root's file from a sticky directory: %v, want EPERM", nobody, err)
		}
	})
}

// asUser runs fn on a thread of its own whose filesystem uid and gid are
// id: the kernel checks permissions with them, and sends them to a FUSE
// server as the caller's.
func asUser(id int, fn func() error) error {
	done := make(chan error)
	go func() {
		// Never unlocked: the thread ends with the goroutine, and its
		// credentials with it.
		runtime.LockOSThread()
		unix.Setfsgid(id)
		unix.Setfsuid(id)
		done <- fn()
	}()
	return <-done
}

func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func create(t *testing.T, dir int, names ...string) {
	t.Helper()
	for _, n := range names {
		fd, err := unix.Openat(dir, n, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Fatalf("creating %s: %v", n, err)
		}
		unix.Close(fd)
	}
}

func inode(t *testing.T, dir int, name string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatalf("stat %s: %v", name, err)
	}
	return st.Ino
}

func exists(dir int, name string) bool {
	var st unix.Stat_t
	return unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
