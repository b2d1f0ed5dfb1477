package dirfd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// TestCopyTreeKeepsSetIDBitsOnlyWithTheOwner is the regression test of
// DESIGN S7 for copies: an unprivileged user who copies another user's
// set-user-ID program must not get a set-user-ID program of its own (one
// that runs as the copier); the bits ride along only where the owner and
// group did, directories included, as cp -a does. The copy runs as uid
// 65534 on a thread of its own (per-thread credentials), from a tree root
// owned; the copier's own set-ID file is the control that keeps its bits.
func TestCopyTreeKeepsSetIDBitsOnlyWithTheOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to copy as another uid a file root owns")
	}
	const nobody = 65534
	base, err := os.MkdirTemp("", "racefree-s7-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	buildTree(t, base, fmt.Sprintf(`
		dir src
		file src/roots-suid r
		chmod src/roots-suid 4755
		file src/roots-sgid g
		chmod src/roots-sgid 2755
		dir src/roots-sgid-dir
		chmod src/roots-sgid-dir 2755
		file src/own-suid o
		chown src/own-suid %d:%d
		chmod src/own-suid 6755
		dir dst
		chown dst %d:%d
	`, nobody, nobody, nobody, nobody))
	d, err := dirfd.Open(base)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		for _, call := range []struct {
			nr uintptr
			a  [3]uintptr
		}{
			{unix.SYS_SETGROUPS, [3]uintptr{0, 0, 0}},
			{unix.SYS_SETRESGID, [3]uintptr{nobody, nobody, nobody}},
			{unix.SYS_SETRESUID, [3]uintptr{nobody, nobody, nobody}},
		} {
			if _, _, e := unix.RawSyscall(call.nr, call.a[0], call.a[1], call.a[2]); e != 0 {
				done <- fmt.Errorf("becoming uid %d: %v", nobody, e)
				return
			}
		}
		done <- dirfd.CopyTree(d, "dst/copy", d, "src")
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want uint32
	}{
		{"roots-suid", 0o755},
		{"roots-sgid", 0o755},
		{"roots-sgid-dir", 0o755},
		{"own-suid", 0o6755},
	} {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(base, "dst", "copy", tc.name), &st); err != nil {
			t.Fatal(err)
		}
		if got := st.Mode & 0o7777; got != tc.want || st.Uid != nobody {
			t.Errorf("%s copied as uid %d: mode %o, owner %d; want mode %o, owner %d", tc.name, nobody, got, st.Uid, tc.want, nobody)
		}
	}
}
