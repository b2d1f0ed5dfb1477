package fstests

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// striker is the cleaner's attacker as real exploits of cleaners run it:
// it watches a directory with inotify and, as soon as someone opens it (to
// list it), swaps it with the symlink, once: whatever the victim then does
// by a path through the directory's name goes through the symlink. It
// strikes at the worst moment for a path-based victim whatever the speed
// of the filesystem and the load of the machine, where a swapper running
// blind flips the names too seldom, or at the wrong moments, to catch a
// slow victim, or flips them back before the victim's next step.
//
// One inotify instance serves a whole side, one watch per round: closing
// an instance waits for an RCU grace period, tens of milliseconds on a
// busy machine.
type striker struct {
	events *os.File
	fd     int
	cur    atomic.Pointer[strike] // the round armed now
	done   chan struct{}
}

// strike is one round: a watch on dir/a, and what came of it.
type strike struct {
	wd      int
	release func() // closes what heldDir opened
	at      string // dir, as the attacker names it
	a, b    string
	mu      sync.Mutex // held while striking; halt waits for it
	halted  bool
	tried   bool
	struck  bool
}

func newStriker(t *testing.T) *striker {
	t.Helper()
	// Non-blocking, so that the runtime poller waits for it and Close
	// wakes the watcher.
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatalf("fstests: inotify: %v", err)
	}
	st := &striker{events: os.NewFile(uintptr(fd), "inotify"), fd: fd, done: make(chan struct{})}
	go st.watch()
	return st
}

func (st *striker) watch() {
	defer close(st.done)
	buf := make([]byte, 4096)
	for {
		n, err := st.events.Read(buf)
		if err != nil {
			return // closed
		}
		// struct inotify_event: wd, mask, cookie, len, name[len].
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := binary.NativeEndian.Uint32(buf[off+12:])
			off += unix.SizeofInotifyEvent + int(nameLen)
			// The watched directory itself opened (with no name: not
			// one of its entries), in the round armed now.
			if s := st.cur.Load(); s != nil && int(wd) == s.wd && mask&unix.IN_OPEN != 0 && nameLen == 0 {
				s.strike()
			}
		}
	}
}

// strike makes the swap, here and now: a new goroutine could start too
// late.
func (s *strike) strike() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.halted || s.tried {
		return
	}
	s.tried = true
	pa, pb := filepath.Join(s.at, s.a), filepath.Join(s.at, s.b)
	s.struck = eintr.Retry(func() error { return exchange(pa, pb) }) == nil || rotate(pa, pb, pa+".swap")
}

// arm sets the attacker on dir/a, to be swapped with dir/b.
func (st *striker) arm(t *testing.T, dir, a, b string) *strike {
	t.Helper()
	at, release := heldDir(t, dir)
	wd, err := eintr.Retry1(func() (int, error) {
		return unix.InotifyAddWatch(st.fd, filepath.Join(at, a), unix.IN_OPEN|unix.IN_ONLYDIR|unix.IN_DONT_FOLLOW)
	})
	if err != nil {
		release()
		t.Fatalf("fstests: inotify: %v", err)
	}
	s := &strike{wd: wd, release: release, at: at, a: a, b: b}
	st.cur.Store(s)
	return s
}

// halt disarms the round's attacker, waits for a strike under way, and
// reports whether it struck.
func (st *striker) halt(s *strike) bool {
	s.mu.Lock()
	s.halted = true
	struck := s.struck
	s.mu.Unlock()
	st.cur.CompareAndSwap(s, nil)
	// The watch is gone already if the directory was removed.
	_, _ = unix.InotifyRmWatch(st.fd, uint32(s.wd))
	s.release()
	return struck
}

// close ends the watcher.
func (st *striker) close() {
	st.events.Close()
	<-st.done
}

// heldDir opens dir (O_PATH) and names it through /proc/self/fd/N, for an
// attacker that renames entries of dir: each name it passes then costs one
// lookup on the filesystem under test rather than one per component of
// dir. On FUSE, where every lookup is a round trip to the server, that
// makes a swap several times faster. Without /proc the name is dir itself.
// The caller calls release once the attacker has stopped.
func heldDir(t *testing.T, dir string) (at string, release func()) {
	t.Helper()
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	at = "/proc/self/fd/" + strconv.Itoa(fd)
	if fi, err := os.Stat(at); err != nil || !fi.IsDir() {
		at = dir
	}
	return at, func() { unix.Close(fd) }
}
