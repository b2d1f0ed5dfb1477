package linkat_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/linkat"
)

// replacer is one way of pointing dir/current at a new target.
type replacer func(t *testing.T, dir string, dirfd int, target string) error

func racefreeReplace(t *testing.T, dir string, dirfd int, target string) error {
	return linkat.ReplaceSymlink(target, dirfd, "current")
}

// naiveRemoveSymlink is what hand-written `ln -sf` code does: there is a
// moment with no "current" at all.
func naiveRemoveSymlink(t *testing.T, dir string, dirfd int, target string) error {
	os.Remove(filepath.Join(dir, "current"))
	return os.Symlink(target, filepath.Join(dir, "current"))
}

// naiveTempName builds the link under a random name in the shared
// directory, then renames it: atomic for readers, but the temporary name is
// open to other users.
func naiveTempName(t *testing.T, dir string, dirfd int, target string) error {
	tmp := filepath.Join(dir, fmt.Sprintf(".tmp-%d", time.Now().UnixNano()))
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "current"))
}

// versionedDir makes v1/f, v2/f and current -> v1 in a directory that
// another uid can reach. It prefers tmpfs (/dev/shm): the attack tests
// measure interleavings, not a disk's metadata latency.
func versionedDir(t *testing.T) (string, int) {
	t.Helper()
	base := ""
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "racefree-linkat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v2"} {
		if err := os.Mkdir(filepath.Join(dir, v), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, v, "f"), bytes.Repeat([]byte(v), 512), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("v1", filepath.Join(dir, "current")); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return dir, fd
}

// replaceWindow replaces current up to n times while two readers read
// current/f, and returns how often a reader found it missing or partial.
// With stopAtFirst it stops once a reader has been caught out: enough for a
// positive control.
func replaceWindow(t *testing.T, replace replacer, n int, stopAtFirst bool) (missing, partial int64) {
	dir, dirfd := versionedDir(t)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				b, err := os.ReadFile(filepath.Join(dir, "current", "f"))
				switch {
				case errors.Is(err, fs.ErrNotExist):
					atomic.AddInt64(&missing, 1)
				case err != nil:
					t.Errorf("reader: %v", err)
					return
				case len(b) != 1024:
					atomic.AddInt64(&partial, 1)
				}
			}
		})
	}
	for i := range n {
		if err := replace(t, dir, dirfd, []string{"v1", "v2"}[i%2]); err != nil {
			t.Errorf("replace %d: %v", i, err)
			break
		}
		if stopAtFirst && atomic.LoadInt64(&missing)+atomic.LoadInt64(&partial) > 0 {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	return missing, partial
}

func TestReplaceSymlinkNameNeverMissing(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	naiveMissing, _ := replaceWindow(t, naiveRemoveSymlink, n, true)
	if naiveMissing == 0 {
		t.Fatalf("inconclusive: naive remove+symlink was never caught missing in %d replaces", n)
	}
	start := time.Now()
	missing, partial := replaceWindow(t, racefreeReplace, n, false)
	t.Logf("%d replaces in %v: racefree missing %d, partial %d (naive remove+symlink caught missing within the same budget)",
		n, time.Since(start).Round(time.Millisecond), missing, partial)
	if missing != 0 || partial != 0 {
		t.Fatalf("racefree ReplaceSymlink: name missing %d times, partial reads %d", missing, partial)
	}
}

func TestReplaceSymlinkLeavesNothingBehind(t *testing.T) {
	dir, dirfd := versionedDir(t)
	for i := range 10 {
		if err := linkat.ReplaceSymlink([]string{"v1", "v2"}[i%2], dirfd, "current"); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), staging.Prefix) {
			t.Fatalf("staging leftover %s", e.Name())
		}
	}
	if got, _ := os.Readlink(filepath.Join(dir, "current")); got != "v2" {
		t.Fatalf("current -> %q, want v2", got)
	}
}

func TestReplaceSymlinkRefusesDirectory(t *testing.T) {
	dir, dirfd := versionedDir(t)
	err := linkat.ReplaceSymlink("v2", dirfd, "v1")
	if err == nil {
		t.Fatal("replaced a directory with a symlink")
	}
	if fi, err := os.Lstat(filepath.Join(dir, "v1")); err != nil || !fi.IsDir() {
		t.Fatal("v1 is no longer the directory")
	}
}

func TestReplaceSymlinkBadTarget(t *testing.T) {
	_, dirfd := versionedDir(t)
	for _, target := range []string{"", "a\x00b"} {
		if err := linkat.ReplaceSymlink(target, dirfd, "current"); err == nil {
			t.Errorf("target %q accepted", target)
		}
	}
}

// attackerEnv makes the test binary act as the staging attacker: another
// user (uid 65534) who watches the shared directory with inotify and, for
// every new entry, moves it aside and puts a symlink to "evil" in its place.
const attackerEnv = "RACEFREE_TEST_STAGING_ATTACKER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(attackerEnv); dir != "" {
		stagingAttacker(dir)
		return
	}
	os.Exit(m.Run())
}

func stagingAttacker(dir string) {
	ifd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		os.Exit(3)
	}
	if _, err := unix.InotifyAddWatch(ifd, dir, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		os.Exit(4)
	}
	os.Stdout.WriteString("ready\n")
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Read(ifd, buf)
		if err != nil {
			continue
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:off+unix.SizeofInotifyEvent+int(ev.Len)]), "\x00")
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if name == "current" || strings.HasPrefix(name, "aside-") || name == "" {
				continue
			}
			// Move the new entry out of the way and put our own in its place.
			if unix.Renameat(unix.AT_FDCWD, filepath.Join(dir, name), unix.AT_FDCWD, filepath.Join(dir, "aside-"+name)) == nil {
				unix.Symlink("evil", filepath.Join(dir, name))
			}
		}
	}
}

// published replaces current up to n times with the attacker running and
// counts how often the attacker's link was published. With stopAtFirst it
// stops once that happened: enough for a positive control.
func published(t *testing.T, replace replacer, n int, stopAtFirst bool) (evil int) {
	dir, dirfd := versionedDir(t)
	if err := os.Chmod(dir, 0o777); err != nil { // shared, and not sticky
		t.Fatal(err)
	}
	cmd := exec.Command(attackerBinary(t))
	cmd.Env = append(os.Environ(), attackerEnv+"="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if _, err := out.Read(make([]byte, 6)); err != nil {
		t.Fatalf("attacker did not start: %v", err)
	}
	for i := range n {
		target := []string{"v1", "v2"}[i%2]
		replace(t, dir, dirfd, target) // errors are expected while under attack
		if got, _ := os.Readlink(filepath.Join(dir, "current")); got == "evil" {
			evil++
			os.Remove(filepath.Join(dir, "current"))
			os.Symlink(target, filepath.Join(dir, "current"))
			if stopAtFirst {
				break
			}
		}
	}
	return evil
}

// attackerBinary copies the test binary where uid 65534 may run it: go
// test builds it in a directory only we can enter.
func attackerBinary(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "racefree-attacker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "attacker")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestReplaceSymlinkStagingTamper(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the attacker as another user (uid 65534)")
	}
	n := 2000
	if testing.Short() {
		n = 300
	}
	// The attacker wins against the naive code in well under 1% of the
	// replaces, so the control gets a budget that makes a miss unlikely
	// and stops at its first catch.
	const controlBudget = 20000
	if naive := published(t, naiveTempName, controlBudget, true); naive == 0 {
		t.Fatalf("inconclusive: the attacker never got its link published by the naive temp-name code in %d replaces", controlBudget)
	}
	ours := published(t, racefreeReplace, n, false)
	t.Logf("%d replaces under attack: racefree published the attacker's link %d times (the naive temp-name code was caught)", n, ours)
	if ours != 0 {
		t.Fatalf("racefree published the attacker's link %d times", ours)
	}
}
