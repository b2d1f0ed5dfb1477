package dirfd_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
)

// go-fuse's stock loopback (fs.NewLoopbackRoot) answers FUSE_TMPFILE, so
// open(O_TMPFILE) works on it, but it cannot link the file it made: it
// works by path, and an unnamed file has none, so LINK gets EXDEV. With
// default_permissions, uid 65534 gets EPERM first: the loopback leaves the
// unnamed file to its own uid (root), and fs.protected_hardlinks refuses
// to link another's file. Some real FUSE and network filesystems behave the
// same way. These tests mount it and check that racefree learns it, by
// ProbeDir or at the first Commit, and that no write is lost to it.

// stockLoopbackEnv, in the environment of this test binary, makes it serve
// the stock loopback on the mount point it names (over a directory beside
// it) instead of running tests.
const stockLoopbackEnv = "RACEFREE_TEST_STOCK_LOOPBACK"

func init() {
	if mnt, ok := os.LookupEnv(stockLoopbackEnv); ok {
		os.Exit(serveStockLoopback(mnt))
	}
}

// serveStockLoopback mounts and serves the loopback until its standard
// input reaches end of file: when the test is done with it, or has died,
// however it died. The server is a process of its own so that a test
// process killed while it waits for an answer never waits on itself
// (see internal/testfs).
func serveStockLoopback(mnt string) int {
	root, err := fs.NewLoopbackRoot(mnt + ".backing")
	if err == nil {
		var server *fuse.Server
		server, err = fs.Mount(mnt, root, &fs.Options{MountOptions: fuse.MountOptions{
			DirectMountStrict: true, // mount(2) itself: there may be no fusermount
			AllowOther:        true, // for the uid 65534 thread
			Options:           []string{"default_permissions"},
			FsName:            "racefree-stock-loopback",
			Name:              "loopback",
		}})
		if err == nil {
			fmt.Println("ready")
			io.Copy(io.Discard, os.Stdin)
			server.Unmount()
			return 0
		}
	}
	fmt.Println(err)
	return 1
}

// mountStockLoopback mounts the stock loopback on a fresh directory whose
// mount this process has learned nothing about, served by a child
// process, and returns the mount point and an O_PATH descriptor of it.
// Everything is unmounted and removed when the test ends.
//
// Where mount IDs can be reused (before Linux 6.8), what the process
// learned about an old mount stays with its ID: a mount that gets one
// learned before (by an earlier test) is kept mounted, so that the next
// one gets another.
func mountStockLoopback(t *testing.T) (string, int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a FUSE filesystem needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no FUSE device: %v", err)
	}
	for range 8 {
		mnt := serveOne(t)
		fd, err := unix.Open(mnt, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		if capability.HasAt(fd, capability.OTmpfile) || !capability.Has(capability.OTmpfile) {
			return mnt, fd
		}
	}
	t.Fatal("every mount had been learned about before")
	return "", -1
}

func serveOne(t *testing.T) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "mnt")
	for _, dir := range []string{mnt, mnt + ".backing"} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A shared directory, like /tmp: the uid 65534 thread works in it too.
	if err := os.Chmod(mnt+".backing", 0o1777); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), stockLoopbackEnv+"="+mnt)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
		// In case the server could not unmount (a descriptor still open).
		unix.Unmount(mnt, unix.MNT_DETACH)
	})
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Skipf("cannot serve go-fuse's loopback: %s%s", line, stderr.String())
	}
	return mnt
}

// asNobody runs fn on a thread of its own whose credentials are uid and
// gid 65534 with no supplementary groups. The raw system calls change only
// that thread (the libc-style wrappers would change every thread of the
// process), and the thread ends with the goroutine, locked to it, so no
// other code ever runs with its credentials; the runtime starts new
// threads from a clean template while one is locked.
func asNobody(fn func() error) error {
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		for _, call := range [][4]uintptr{
			{unix.SYS_SETGROUPS, 0, 0, 0},
			{unix.SYS_SETRESGID, nobodyID, nobodyID, nobodyID},
			{unix.SYS_SETRESUID, nobodyID, nobodyID, nobodyID},
		} {
			if _, _, e := unix.RawSyscall(call[0], call[1], call[2], call[3]); e != 0 {
				done <- fmt.Errorf("becoming uid %d: %v", nobodyID, e)
				return
			}
		}
		done <- fn()
	}()
	return <-done
}

// TestAtomicFileWhereUnnamedFilesCannotBeNamed: on the stock loopback,
// ProbeDir reports o_tmpfile missing with the errno; and where nothing was
// probed first, the first Commit learns it and still publishes the file
// whole, with the old file's owner and mode, leaving nothing behind; later
// writes take the named route at once, in a Strict Dir too. As root
// (EXDEV) and as uid 65534 (EPERM).
func TestAtomicFileWhereUnnamedFilesCannotBeNamed(t *testing.T) {
	for _, tc := range []struct {
		user   string
		errno  unix.Errno
		probed bool // ProbeDir before anything else; otherwise Commit learns
	}{
		{"root", unix.EXDEV, false},
		{"root", unix.EXDEV, true},
		{"nobody", unix.EPERM, false},
		{"nobody", unix.EPERM, true},
	} {
		how := "learned-at-commit"
		if tc.probed {
			how = "probed"
		}
		t.Run(tc.user+"/"+how, func(t *testing.T) {
			mnt, mntFd := mountStockLoopback(t)
			// Root's writes must give the new file to the old owner.
			owner, creator := 1234, 0
			as := func(fn func() error) error { return fn() }
			if tc.user == "nobody" {
				owner, creator, as = nobodyID, nobodyID, asNobody
			}
			old := filepath.Join(mnt, "old")
			if err := os.WriteFile(old, []byte("old content"), 0o640); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(old, owner, owner); err != nil {
				t.Fatal(err)
			}
			// Strict: the named route is no emulation, nothing to refuse.
			d := openDir(t, mnt, dirfd.Strict())
			// ProbeDir tries the filesystem whenever the process has
			// o_tmpfile; Commit only where it stages unnamed files, which
			// needs a way to link a descriptor too. Otherwise
			// (RACEFREE_DISABLE) the named route is taken throughout.
			probing := capability.Has(capability.OTmpfile)
			learning := probing && (capability.Has(capability.LinkEmptyPath) || capability.Has(capability.LinkProcFd))
			if err := as(func() error {
				if tc.probed {
					r, err := capability.ProbeDir(int(d.Fd()))
					if err != nil {
						return err
					}
					if probing {
						checkTmpfileMissing(t, "after ProbeDir", r.Status(capability.OTmpfile), tc.errno)
					}
				} else if learning && !capability.HasAt(mntFd, capability.OTmpfile) {
					return errors.New("o_tmpfile already missing before the first Commit: the test cannot tell what Commit learned")
				}
				// Replacing a file, from a descriptor whose offset is
				// not 0: the content is copied from the start.
				f, err := d.CreateAtomic("old", 0o600)
				if err != nil {
					return err
				}
				if _, err := f.WriteString("new content"); err != nil {
					f.Close()
					return err
				}
				if _, err := f.Seek(4, io.SeekStart); err != nil {
					f.Close()
					return err
				}
				if err := f.Commit(); err != nil {
					return err
				}
				if learning {
					checkTmpfileMissing(t, "after the first Commit", capability.ForDir(mntFd).Status(capability.OTmpfile), tc.errno)
				}
				// A new name, after the filesystem is known.
				return d.WriteFile("new", []byte("more"), 0o604)
			}); err != nil {
				t.Fatal(err)
			}
			checkFile(t, old, "new content", 0o640, owner)
			checkFile(t, filepath.Join(mnt, "new"), "more", 0o604&^currentUmask(), creator)
			d.Close() // and with it the stage it kept
			for _, dir := range []string{mnt, mnt + ".backing"} {
				if got := entries(t, dir); !slices.Equal(got, []string{"new", "old"}) {
					t.Errorf("%s holds %q, want only new and old", dir, got)
				}
			}
		})
	}
}

func checkTmpfileMissing(t *testing.T, when string, s capability.Status, errno unix.Errno) {
	t.Helper()
	if s.Available || !strings.Contains(s.Detail, unix.ErrnoName(errno)) || !strings.Contains(s.Detail, errno.Error()) {
		t.Errorf("o_tmpfile %s: available %v (%s), want missing, naming %s", when, s.Available, s.Detail, unix.ErrnoName(errno))
	}
}

func checkFile(t *testing.T, path, content string, perm os.FileMode, owner int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil || string(data) != content {
		t.Errorf("%s: %q, %v; want %q", path, data, err, content)
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	if os.FileMode(st.Mode&0o7777) != perm || int(st.Uid) != owner || int(st.Gid) != owner {
		t.Errorf("%s: mode %o, owner %d:%d; want %o, %d:%d", path, st.Mode&0o7777, st.Uid, st.Gid, perm, owner, owner)
	}
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}
