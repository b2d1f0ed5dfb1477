//go:build unix

// Package staging creates the private directories in which racefree builds
// an object before renaming it into place (G2, G5 in DESIGN.md), takes an
// object aside to examine it (G3), or tries a primitive on a filesystem
// (the capability probe).
//
// Why a directory and not a random temporary name: in a directory other
// users can write to, a temporary name, however random, can be watched
// (inotify) and replaced by the attacker's own object between our creation
// of it and our rename, and we would publish their object. A directory
// created with mode 0700 and used only through its descriptor admits no one
// else: nobody but its owner (and root) can create, rename or replace an
// entry inside it. It is made in the same parent as the final name so that
// the rename stays on one filesystem.
//
// The directories themselves live where the attacker can write, so they
// are attack surface too (DESIGN.md, rules S1 to S4):
//
//   - S1, born verified: Create makes the directory with mkdirat and a name
//     holding 128 random bits, opens it without following symlinks, and
//     uses it only if fstat and a listing say it is a directory owned by
//     us, of mode exactly 0700, and empty. Between mkdirat and openat an
//     attacker who can write the parent can exchange our new directory
//     with any other entry of that parent (RENAME_EXCHANGE in the same
//     parent needs no permission on the entries themselves), one of our
//     own private directories included: the checks refuse anything that is
//     not an empty private directory of ours, and such a thing is left
//     exactly as found.
//   - S2, remove only what we made: entries are created under names from
//     NewName, unique to this Dir value, and removed by the operation that
//     made them; Remove removes the directory itself only while its name
//     still refers to the inode we verified, with rmdir, which never
//     removes anything that is not empty. Nothing here ever lists a
//     directory and deletes what it finds.
//   - S3, kept: a Cache keeps one directory per parent and kind for
//     reuse, so the mkdirat and rmdir leave the hot path.
//   - S4: the kinds have their own prefixes, and OwnName says which names
//     inside one a clean-up (dirfd.Dir.RemoveStale) may treat as racefree's
//     own leftovers.
package staging

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Prefix starts the name of every directory this package makes, so that
// leftovers of a crash are recognisable (see dirfd.Dir.RemoveStale).
const Prefix = ".racefree-"

// Kind says what a private directory is for; each has its own name prefix.
type Kind uint8

const (
	// Stage holds objects being built before they are renamed into
	// place: files, links, trees. A leftover holds nothing anyone else
	// has yet seen, and may be removed.
	Stage Kind = iota
	// Aside holds objects taken out of a shared directory to be examined
	// (the move-aside of G3). A leftover holds somebody's object, which
	// must be put back, never removed (S4).
	Aside
	// Probe holds the capability probe's trial objects.
	Probe
)

// Prefix returns the name prefix of the kind.
func (k Kind) Prefix() string {
	switch k {
	case Aside:
		return Prefix + "aside-"
	case Probe:
		return Prefix + "probe-"
	}
	return Prefix
}

// KindOf returns the kind whose prefix name has, and false for a name no
// directory of this package can have.
func KindOf(name string) (Kind, bool) {
	for _, k := range []Kind{Aside, Probe} {
		if rest, ok := strings.CutPrefix(name, k.Prefix()); ok {
			return k, isHex(rest, nameBytes*2)
		}
	}
	rest, ok := strings.CutPrefix(name, Prefix)
	return Stage, ok && isHex(rest, nameBytes*2)
}

// ProbeNames are the names the capability probe creates in its directory.
var ProbeNames = []string{"a", "b", "c", "d", "t"}

// OwnName reports whether an entry called name in a directory of kind k
// is one racefree makes there: NewName's form for a stage ("file-",
// "link-" or "tree-") or an aside ("object-"), ProbeNames for a probe.
func (k Kind) OwnName(name string) bool {
	if k == Probe {
		for _, n := range ProbeNames {
			if name == n {
				return true
			}
		}
		return false
	}
	what, rest, ok := strings.Cut(name, "-")
	if !ok {
		return false
	}
	switch {
	case k == Aside && what == "object":
	case k == Stage && (what == "file" || what == "link" || what == "tree"):
	default:
		return false
	}
	nonce, seq, ok := strings.Cut(rest, "-")
	if !ok || !isHex(nonce, nonceBytes*2) || seq == "" {
		return false
	}
	_, err := strconv.ParseUint(seq, 10, 64)
	return err == nil
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

const (
	nameBytes  = 16 // random bytes in a directory's name: 128 bits
	nonceBytes = 8  // random bytes that make a Dir's entry names its own
	// createTries bounds how many fresh names Create tries when the one it
	// made turns out not to be its own (S1).
	createTries = 8
)

// Dir is a private directory: Fd is its descriptor, Name its name in the
// parent it was created in (where it stays: only root or we could move it
// to another parent, see Cache).
type Dir struct {
	Name string
	Fd   int
	Kind Kind
	// Parent is a descriptor of the directory it was made in, its own:
	// open for reading where the parent allows it (ParentReadable), so
	// that an operation publishing into the parent can fsync it without
	// opening it again, else a duplicate of the descriptor Create got.
	Parent         int
	ParentReadable bool
	st             unix.Stat_t
	nonce          string
	seq            atomic.Uint64
	entry          *cached // the Cache's record of s; nil when s is not kept
}

// errNotOurs is what Create says when every name it made was exchanged for
// something else.
var errNotOurs = errors.New("every new private directory was replaced by something else before it could be opened (someone is racing us in this directory)")

// Create makes a fresh private directory of kind in parent, verified as
// S1 says (see the package documentation). parent is only borrowed: the
// Dir keeps a duplicate of it.
func Create(parent int, kind Kind) (*Dir, error) {
	var lastErr error = errNotOurs
	for range createTries {
		var b [nameBytes]byte
		rand.Read(b[:])
		name := kind.Prefix() + hex.EncodeToString(b[:])
		t0 := time.Now()
		err := eintr.Retry(func() error { return unix.Mkdirat(parent, name, 0o700) })
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return nil, err
		}
		fd, err := eintr.Retry1(func() (int, error) {
			return unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			// Ours was moved away and the name holds something we cannot
			// open as a directory (or nothing): not ours, left alone.
			lastErr = fmt.Errorf("%s: %w (%v)", name, errNotOurs, err)
			continue
		}
		s := &Dir{Name: name, Fd: fd, Kind: kind, Parent: -1}
		if err := s.verify(t0); err != nil {
			unix.Close(fd)
			lastErr = err
			if errors.Is(err, errNotOurs) {
				continue
			}
			return nil, err
		}
		s.Parent, err = eintr.Retry1(func() (int, error) {
			return unix.Openat(parent, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		s.ParentReadable = err == nil
		if err == unix.EACCES {
			// A directory we may write and search but not read (a mode
			// 0311 drop box).
			s.Parent, err = unix.FcntlInt(uintptr(parent), unix.F_DUPFD_CLOEXEC, 0)
		}
		if err != nil {
			// The directory is ours, verified and empty: rmdir is safe
			// here even if the name has been swapped since (it removes
			// only an empty directory, see Remove).
			unix.Close(fd)
			eintr.Retry(func() error { return unix.Unlinkat(parent, name, unix.AT_REMOVEDIR) })
			return nil, err
		}
		var nb [nonceBytes]byte
		rand.Read(nb[:])
		s.nonce = hex.EncodeToString(nb[:])
		live.add(s)
		return s, nil
	}
	return nil, lastErr
}

// verify checks that the directory we opened is an empty private directory
// of ours (S1), made no earlier than t0 where the filesystem records birth
// times: anything else under the name may be the victim's own data that
// an attacker exchanged with ours, and must not be used (a stage's
// entries are created and removed, an aside's are moved).
//
// Emptiness is what keeps the victim's data safe; the birth time narrows
// what can still pass for ours to an empty private directory the victim
// made within the last moments: without it, any empty 0700 directory of
// ours in the parent could be exchanged in, and would end up replaced by
// our own (empty, 0700) one under its name when the stage is removed.
func (s *Dir) verify(t0 time.Time) error {
	born, err := fstatBorn(s.Fd, &s.st)
	if err != nil {
		return err
	}
	switch {
	case s.st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("%s is not a directory: %w", s.Name, errNotOurs)
	case !ownedByUs(s.st.Uid):
		return fmt.Errorf("%s is owned by uid %d: %w", s.Name, s.st.Uid, errNotOurs)
	case s.st.Mode&0o7777 != 0o700:
		return fmt.Errorf("%s has mode %o, not 0700: %w", s.Name, s.st.Mode&0o7777, errNotOurs)
	case !born.IsZero() && born.Before(t0.Add(-bornSlack)):
		return fmt.Errorf("%s was made at %v, before we made ours: %w", s.Name, born, errNotOurs)
	}
	empty, err := isEmpty(s.Fd)
	if err != nil {
		return err
	}
	if !empty {
		return fmt.Errorf("%s is not empty: %w", s.Name, errNotOurs)
	}
	return nil
}

// bornSlack allows for the kernel stamping times from a clock that is
// coarser than time.Now (a timer tick, up to 10 ms).
const bornSlack = 50 * time.Millisecond

// isEmpty lists the directory fd (its offset moves; the descriptor is used
// only with *at calls afterwards) and reports whether it holds nothing but
// "." and "..".
func isEmpty(fd int) (bool, error) {
	var buf [1024]byte
	for {
		n, err := eintr.Retry1(func() (int, error) { return unix.ReadDirent(fd, buf[:]) })
		if err != nil {
			return false, err
		}
		if n <= 0 {
			return true, nil
		}
		_, _, names := unix.ParseDirent(buf[:n], 1, nil)
		if len(names) > 0 { // ParseDirent skips "." and ".."
			return false, nil
		}
	}
}

// NewName returns a name for a new entry of this directory: what (a word
// OwnName knows for the kind) and a number unique to this Dir value. Two
// Dir values never share names, even for one directory (two Dirs of ours
// in one parent can be exchanged with each other by an attacker before
// either is opened, and both pass S1 if both are empty), so an entry made
// under a name from NewName never replaces anything.
func (s *Dir) NewName(what string) string {
	return what + "-" + s.nonce + "-" + strconv.FormatUint(s.seq.Add(1), 10)
}

// Gone reports whether the directory has been removed (its link count is
// 0): in a parent without the sticky bit, anyone who may write the parent
// may remove an empty directory there, ours included. Creating an entry in
// a removed directory fails with ENOENT; a Cache drops it then.
func (s *Dir) Gone() bool {
	var st unix.Stat_t
	return eintr.Retry(func() error { return unix.Fstat(s.Fd, &st) }) == nil && st.Nlink == 0
}

// Remove removes the directory, which must be empty, and closes it. The
// entries an operation made in it are that operation's to remove (S2);
// if one is left, rmdir fails (ENOTEMPTY), and the directory stays for
// dirfd.Dir.RemoveStale.
//
// The name is removed only while it refers to the inode verified at
// birth, so another directory of ours that an attacker exchanged into the
// name is not pulled from under the operation using it. The check and the
// rmdir are two calls; what a swap between them can do: rmdir removes only
// an empty directory (a non-directory or a mount point is refused), and
// in a parent where someone can swap our names without owning them (no
// sticky bit) that user may remove any empty directory there anyway. A
// directory of ours that was moved away is left, empty, with its prefix.
func (s *Dir) Remove() error {
	defer s.close()
	var now unix.Stat_t
	err := eintr.Retry(func() error { return unix.Fstatat(s.Parent, s.Name, &now, unix.AT_SYMLINK_NOFOLLOW) })
	if err != nil {
		return err
	}
	if now.Dev != s.st.Dev || now.Ino != s.st.Ino {
		return fmt.Errorf("%s: the name refers to another object now; ours is left where it was moved", s.Name)
	}
	return eintr.Retry(func() error { return unix.Unlinkat(s.Parent, s.Name, unix.AT_REMOVEDIR) })
}

// Close closes the directory and leaves it in place (a leftover holding
// something that must not be removed).
func (s *Dir) Close() { s.close() }

func (s *Dir) close() {
	live.remove(s)
	unix.Close(s.Fd)
	unix.Close(s.Parent)
}

// Live reports whether the directory with this device and inode is one
// this process is using: dirfd.Dir.RemoveStale leaves such a directory
// alone whatever its age.
func Live(dev, ino uint64) bool { return live.has(dev, ino) }

// live is the process's set of private directories in use.
var live = liveSet{m: map[[2]uint64]int{}}

type liveSet struct {
	mu sync.Mutex
	m  map[[2]uint64]int
}

func (l *liveSet) add(s *Dir) {
	l.mu.Lock()
	l.m[[2]uint64{uint64(s.st.Dev), s.st.Ino}]++
	l.mu.Unlock()
}

func (l *liveSet) remove(s *Dir) {
	k := [2]uint64{uint64(s.st.Dev), s.st.Ino}
	l.mu.Lock()
	if l.m[k]--; l.m[k] <= 0 {
		delete(l.m, k)
	}
	l.mu.Unlock()
}

func (l *liveSet) has(dev, ino uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[[2]uint64{dev, ino}] > 0
}

// knownEuid caches our effective uid, or holds -1. os.Geteuid is a system
// call, and a replacement costs only a handful, so the uid is remembered,
// but only a value whose staleness can never admit a stranger's directory:
//
//   - 0: a directory owned by root was made by root, never by the
//     attacker (who is not root). If we have since dropped to another uid,
//     a stale 0 can only accept such a directory, and a mode-0700 root
//     directory is one we cannot write into any more: the operation fails.
//   - a uid the process can never leave (see euidFixed): it cannot be
//     stale.
//
// What must not be cached is an unprivileged uid that a process may later
// leave for root (the seteuid(user) ... seteuid(0) pattern of privileged
// daemons): a stale cache would then accept, as root, a 0700 directory of
// that user, who is exactly who the directory must be safe from. Such
// processes compare with os.Geteuid every time.
var knownEuid atomic.Int64

func init() { knownEuid.Store(-1) }

// ownedByUs reports whether uid is our effective uid. A mismatch with the
// cache costs one os.Geteuid, never an acceptance.
func ownedByUs(uid uint32) bool {
	if c := knownEuid.Load(); c >= 0 && uint32(c) == uid {
		return true
	}
	euid := os.Geteuid()
	if euid == 0 || euidFixed() {
		knownEuid.Store(int64(euid))
	}
	return uint32(euid) == uid
}
