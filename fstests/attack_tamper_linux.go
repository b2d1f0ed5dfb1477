package fstests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
)

// The staging tamper attack: a privileged tool publishes a file into a
// directory every user may write to (root/shared, mode 1777, like /tmp or
// a spool), the way hand-written tools do: write a temporary file beside
// the final name, then rename it over the name. The attacker, another user
// (uid 65534), watches the directory with inotify and goes for the
// temporary name: it writes into the file if it can, swaps it for its own,
// and, the moment the victim renames it away, takes the name itself with a
// hard link to a file of its own choosing (bait/f, which it may write), so
// that the victim's next O_CREAT|O_TRUNC without O_EXCL opens the
// attacker's file, fills it, and publishes it. The sticky bit does not
// help: the name was free when the attacker took it. Neither do
// fs.protected_regular and fs.protected_symlinks: the linked file is the
// victim's own uid's (a hard link, not a symlink, to a file anyone may
// write, which fs.protected_hardlinks allows).
//
// An escape is a published root/shared/name that is not the victim's own
// new file: not a regular file, another name of the bait or of the
// sentinel, owned by someone else, with another link to it, or holding
// anything but what the victim wrote (the attacker writes into the bait
// each time something is published), or a change under the sentinel. G2
// stages the file where no other user can reach it (a private mode-0700
// directory), so there is nothing for the attacker to take.
func init() {
	register(attack{name: "tamper", order: 51, skip: tamperSkip, run: runTamper})
}

// tamperUID is the attacker's uid and gid.
const tamperUID = 65534

func tamperSkip() string {
	if os.Geteuid() != 0 {
		return "needs root to run the attacker as another uid"
	}
	return ""
}

// tamperScene is what the victim and the attacker share: descriptors the
// victim opens for the attacker, which then needs no search permission on
// the directories above them.
type tamperScene struct {
	shared, bait int // O_PATH descriptors of root/shared and bait
	inotify      int // watching root/shared
}

func runTamper(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	s := newSentinel(t, dir)
	root := filepath.Join(dir, "root")
	shared := filepath.Join(root, "shared")
	name := filepath.Join(shared, "name")
	baitFi, err := mkFile(filepath.Join(dir, "bait"), "f", "bait\n")
	if err == nil {
		err = os.Chmod(filepath.Join(dir, "bait", "f"), 0o666) // past the umask
	}
	if err == nil {
		err = os.MkdirAll(shared, 0o755)
	}
	if err == nil {
		err = os.Chmod(shared, 0o777|os.ModeSticky)
	}
	if err == nil {
		// The name is the victim's before the attacker starts: the sticky
		// bit keeps it so.
		err = os.WriteFile(name, []byte("seed\n"), 0o644)
	}
	if err != nil {
		t.Fatalf("fstests: tamper: %v", err)
	}
	var sc tamperScene
	for _, fd := range []*int{&sc.shared, &sc.bait, &sc.inotify} {
		*fd = -1
	}
	defer func() {
		for _, fd := range []int{sc.shared, sc.bait, sc.inotify} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	for _, o := range []struct {
		fd   *int
		path string
	}{{&sc.shared, shared}, {&sc.bait, filepath.Join(dir, "bait")}} {
		if *o.fd, err = openPathDir(o.path); err != nil {
			t.Fatalf("fstests: tamper: %v", err)
		}
	}
	if sc.inotify, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err != nil {
		t.Fatalf("fstests: tamper: inotify_init1: %v", err)
	}
	if _, err := unix.InotifyAddWatch(sc.inotify, shared, unix.IN_CREATE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_DELETE); err != nil {
		t.Fatalf("fstests: tamper: inotify_add_watch %s: %v", shared, err)
	}

	var publish func(data []byte, i int64) error
	switch side {
	case Naive:
		tmp := name + ".tmp"
		publish = func(data []byte, _ int64) error {
			f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			return os.Rename(tmp, name)
		}
	case Racefree:
		d, err := dirfd.Open(root)
		if err != nil {
			t.Fatalf("fstests: tamper: %v", err)
		}
		defer d.Close()
		publish = func(data []byte, i int64) error {
			if i%2 == 0 {
				return d.WriteFile("shared/name", data, 0o644)
			}
			f, err := d.CreateAtomic("shared/name", 0o644)
			if err != nil {
				return err
			}
			defer f.Close()
			if _, err := f.Write(data); err != nil {
				return err
			}
			return f.Commit()
		}
	}

	a := startTamperer(sc)
	if why := <-a.ready; why != "" {
		a.halt()
		t.Skip(why)
	}
	euid := uint32(os.Geteuid())
	var ops, escapes int64
	first := ""
	for b.more(ops, escapes) {
		ops++
		data := fmt.Appendf(nil, "victim %d\n", ops)
		if err := publish(data, ops); err != nil {
			t.Errorf("fstests: tamper: %s victim, publish %d: %v", side, ops, err)
			break
		}
		why, err := tamperJudge(s, name, baitFi, euid, data)
		if err != nil {
			t.Errorf("fstests: tamper: %s victim, publish %d: %v", side, ops, err)
			break
		}
		if why != "" {
			escapes++
			if first == "" {
				first = why
			}
		}
	}
	a.halt()
	r := Result{Ops: ops, Escapes: escapes, Moves: a.events.Load()}
	r.Detail = fmt.Sprintf("%d publishes; attacker (uid %d): %d events, %d names taken, %d writes into the victim's files",
		ops, tamperUID, a.events.Load(), a.taken.Load(), a.tampered.Load())
	r.addEscapes(first, s.changes())
	return r
}

// mkFile makes dir (0755) and in it a file name holding content, and
// returns the file's description.
func mkFile(dir, name, content string) (fs.FileInfo, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		return nil, err
	}
	return os.Lstat(p)
}

// tamperJudge says what is wrong with the file published at name, which
// must be the victim's own new file holding data, or "".
func tamperJudge(s *sentinel, name string, bait fs.FileInfo, euid uint32, data []byte) (string, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return "", err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if rel, ok := s.holds(fi); ok {
		return "published outside/" + rel, nil
	}
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Sprintf("published a %v, not a regular file", fi.Mode().Type()), nil
	case os.SameFile(fi, bait):
		return "published the attacker's bait/f", nil
	case st.Uid != euid:
		return fmt.Sprintf("published a file of uid %d", st.Uid), nil
	case st.Nlink != 1:
		return fmt.Sprintf("published a file with %d links", st.Nlink), nil
	}
	got, err := os.ReadFile(name)
	if err != nil {
		return "", err
	}
	if string(got) != string(data) {
		return fmt.Sprintf("published %q, not what the victim wrote", got), nil
	}
	return "", nil
}

func openPathDir(path string) (int, error) {
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// tamperer is the attacker: a goroutine running as uid tamperUID.
type tamperer struct {
	sc       tamperScene
	stop     atomic.Bool
	events   atomic.Int64
	taken    atomic.Int64 // names it took with its bait
	tampered atomic.Int64 // writes into files the victim created
	ready    chan string  // "" once it attacks, or why it cannot here
	done     chan struct{}
}

// startTamperer starts the attacker in a goroutine of its own, as another
// user, without a second process: the goroutine locks itself to its
// thread and changes that thread's credentials with the raw system calls.
// Only that thread changes: syscall.Setuid and its kin change every thread
// of the process (since Go 1.16), the raw calls only the caller's. It is
// safe because the goroutine never unlocks the thread: no other goroutine
// ever runs on it, and when it returns the runtime ends the thread rather
// than reuse it (the process's main thread, which cannot end, is parked
// for good instead). Nor can the credentials spread: the runtime starts
// new threads from a clean template thread, never from a locked one. The
// thread does nothing but raw system calls on the descriptors the victim
// opened for it.
func startTamperer(sc tamperScene) *tamperer {
	a := &tamperer{sc: sc, ready: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		runtime.LockOSThread() // never unlocked: see above
		if err := becomeUser(tamperUID); err != nil {
			a.ready <- fmt.Sprintf("cannot run the attacker as uid %d: %v", tamperUID, err)
			return
		}
		if why := a.probe(); why != "" {
			a.ready <- why
			return
		}
		a.ready <- ""
		a.attack()
	}()
	return a
}

// becomeUser makes the calling thread, and only it, uid and gid id with
// no supplementary groups. (On 32-bit systems these are the 16-bit calls,
// which hold 65534.)
func becomeUser(id uintptr) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, id, id, id); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, id, id, id); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	return nil
}

// probe checks, as the attacker, that this filesystem gives the attack a
// meaning: the attacker can make names in the shared directory and write
// its bait, but cannot write or move the victim's file there. A filesystem
// that lets it (permissions or the sticky bit not enforced) protects
// nothing from another user, so no library can either. The events the
// probe caused are drained.
func (a *tamperer) probe() string {
	defer a.drain()
	if err := a.link("probe"); err != nil {
		return fmt.Sprintf("uid %d cannot make a name in a mode-1777 directory of this filesystem (link: %v), so it cannot attack here", tamperUID, err)
	}
	eintr.Retry(func() error { return unix.Unlinkat(a.sc.shared, "probe", 0) })
	if fd, err := a.openShared("name"); err == nil {
		unix.Close(fd)
		return fmt.Sprintf("this filesystem lets uid %d open root's mode-0644 file for writing: it does not enforce permissions, so nothing holds against another user here", tamperUID)
	}
	if a.rename("name", "name.moved") == nil {
		a.rename("name.moved", "name")
		return fmt.Sprintf("this filesystem lets uid %d move root's file out of a sticky directory: it does not enforce the sticky bit, so nothing holds against another user here", tamperUID)
	}
	return ""
}

// drain discards the events queued so far.
func (a *tamperer) drain() {
	buf := make([]byte, 4096)
	for {
		if _, err := eintr.Retry1(func() (int, error) { return unix.Read(a.sc.inotify, buf) }); err != nil {
			return // EAGAIN: empty
		}
	}
}

// attack reacts to every event in the shared directory until halted.
func (a *tamperer) attack() {
	buf := make([]byte, 64<<10)
	attacker := []byte("attacker\n")
	baitW, err := eintr.Retry1(func() (int, error) { return unix.Openat(a.sc.bait, "f", unix.O_WRONLY|unix.O_CLOEXEC, 0) })
	if err == nil {
		defer unix.Close(baitW)
	}
	mine := map[string]bool{} // names it made: their events are its own
	for !a.stop.Load() {
		fds := []unix.PollFd{{Fd: int32(a.sc.inotify), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 20); n <= 0 || err != nil {
			continue // nothing yet, or EINTR: look at stop again
		}
		n, err := eintr.Retry1(func() (int, error) { return unix.Read(a.sc.inotify, buf) })
		if err != nil {
			continue
		}
		inotifyEvents(buf[:n], func(mask uint32, name string) {
			a.events.Add(1)
			switch {
			case name == "name":
				// Something was published: if it is the bait, the
				// attacker now writes the victim's file.
				if mask&unix.IN_MOVED_TO != 0 && baitW >= 0 {
					eintr.Retry1(func() (int, error) { return unix.Pwrite(baitW, attacker, 0) })
					eintr.Retry(func() error { return unix.Ftruncate(baitW, int64(len(attacker))) })
				}
			case mask&unix.IN_CREATE != 0 && !mine[name]:
				// The victim's temporary object: write into it, or move it
				// aside and put the bait in its place.
				if fd, err := a.openShared(name); err == nil {
					// Only the victim's own files count: by now the name
					// may be the bait again.
					if !a.isBait(fd) {
						if _, err := eintr.Retry1(func() (int, error) { return unix.Write(fd, attacker) }); err == nil {
							a.tampered.Add(1)
						}
					}
					unix.Close(fd)
				}
				if a.rename(name, name+".aside") == nil {
					a.take(name, mine)
				}
			case mask&(unix.IN_MOVED_FROM|unix.IN_DELETE) != 0 && mask&unix.IN_ISDIR == 0:
				// The victim let go of the name of a file: take it, for
				// the next time the victim uses it. (A directory's name is
				// left alone: racefree's stages have random names that
				// never come back, so taking them would only pile up
				// links.)
				delete(mine, name)
				a.take(name, mine)
			}
		})
	}
}

// isBait tells whether fd is the attacker's own bait.
func (a *tamperer) isBait(fd int) bool {
	var st, bait unix.Stat_t
	return unix.Fstat(fd, &st) == nil && unix.Fstatat(a.sc.bait, "f", &bait, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		st.Dev == bait.Dev && st.Ino == bait.Ino
}

// take makes name a link to the bait, and remembers it as its own.
func (a *tamperer) take(name string, mine map[string]bool) {
	if a.link(name) == nil {
		mine[name] = true
		a.taken.Add(1)
	}
}

// link makes name in the shared directory a link to the bait.
func (a *tamperer) link(name string) error {
	return eintr.Retry(func() error { return unix.Linkat(a.sc.bait, "f", a.sc.shared, name, 0) })
}

// openShared opens name in the shared directory for writing, as the
// attacker may or may not.
func (a *tamperer) openShared(name string) (int, error) {
	return eintr.Retry1(func() (int, error) {
		return unix.Openat(a.sc.shared, name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
}

// rename renames from to to in the shared directory.
func (a *tamperer) rename(from, to string) error {
	return eintr.Retry(func() error { return unix.Renameat(a.sc.shared, from, a.sc.shared, to) })
}

// halt stops the attacker and waits for it.
func (a *tamperer) halt() {
	a.stop.Store(true)
	<-a.done
}
