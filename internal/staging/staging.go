//go:build unix

// Package staging creates the private directories in which racefree builds
// an object before renaming it into place (G2, G3, G5 in DESIGN.md).
//
// Why a directory and not a random temporary name: in a directory other
// users can write to, a temporary name, however random, can be watched
// (inotify) and replaced by the attacker's own object between our creation
// of it and our rename, and we would publish their object. A directory
// created with mode 0700 and used only through its descriptor admits no one
// else: nobody but its owner (and root) can create, rename or replace an
// entry inside it. It is made in the same parent as the final name so that
// the rename stays on one filesystem.
package staging

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Prefix starts the name of every staging directory, so that leftovers of a
// crash are recognisable (see dirfd.Dir.RemoveStale).
const Prefix = ".racefree-"

// Dir is a staging directory: Fd is its descriptor, Name its name in the
// parent it was created in.
type Dir struct {
	parent int
	Name   string
	Fd     int
	st     unix.Stat_t
}

// Create makes a fresh staging directory in parent.
func Create(parent int) (*Dir, error) {
	for tries := 0; ; tries++ {
		var b [12]byte
		rand.Read(b[:])
		name := Prefix + hex.EncodeToString(b[:])
		err := eintr.Retry(func() error { return unix.Mkdirat(parent, name, 0o700) })
		if err == unix.EEXIST && tries < 8 {
			continue
		}
		if err != nil {
			return nil, err
		}
		fd, err := eintr.Retry1(func() (int, error) {
			return unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return nil, err
		}
		s := &Dir{parent: parent, Name: name, Fd: fd}
		if err := s.verify(); err != nil {
			unix.Close(fd)
			return nil, err
		}
		return s, nil
	}
}

// verify checks that the directory we opened is the one we made: between
// mkdirat and openat another user could have renamed ours away and put
// their own in its place. Only its owner (and a privileged process) can
// enter a mode-0700 directory, so "ours" is "owned by our effective uid,
// closed to everyone else"; O_DIRECTORY|O_NOFOLLOW at the open already
// made it a directory and not a symlink to one.
func (s *Dir) verify() error {
	if err := eintr.Retry(func() error { return unix.Fstat(s.Fd, &s.st) }); err != nil {
		return err
	}
	switch {
	case s.st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("staging directory %s is not a directory", s.Name)
	case !ownedByUs(s.st.Uid):
		return fmt.Errorf("staging directory %s is owned by uid %d, not by us", s.Name, s.st.Uid)
	case s.st.Mode&0o077 != 0:
		return fmt.Errorf("staging directory %s is accessible to others (mode %o)", s.Name, s.st.Mode&0o777)
	}
	return nil
}

// knownEuid caches our effective uid, or holds -1. os.Geteuid is a system
// call, and a replacement costs only a handful, so the uid is remembered,
// but only a value whose staleness can never admit a stranger's stage:
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
// that user, who is exactly who the stage must be safe from. Such
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

// Remove removes the staging directory and closes it. Entries left inside
// (after a failed operation) are removed through the descriptor first, so
// only our own stage is ever emptied, wherever it is now.
//
// The directory itself can only be removed by name, and the name is not
// checked against the descriptor first (fstatat, then rmdir, would still
// leave a window between the two). Why removing whatever the name refers to
// now is safe:
//
//   - rmdir removes nothing but an empty directory: a stranger's contents
//     are never touched, and a non-directory or a mount point is refused.
//   - For the name to refer to anything but our stage, someone renamed our
//     stage away. In a sticky directory only we (the stage's owner) or the
//     directory's owner can do that, and the directory's owner controls
//     every name in it anyway. In a non-sticky one it takes write and
//     search permission on the directory, which already lets that user
//     remove the empty directory now at the name itself: our rmdir does
//     nothing for them they could not do.
//   - If the name now refers to another stage of ours (in use by a
//     concurrent operation), removing it makes that operation fail when it
//     uses its descriptor; it cannot make it publish anything else.
//
// Our renamed-away stage is then left behind, empty, with the staging
// prefix, for Dir.RemoveStale.
func (s *Dir) Remove() error {
	defer unix.Close(s.Fd)
	err := eintr.Retry(func() error { return unix.Unlinkat(s.parent, s.Name, unix.AT_REMOVEDIR) })
	if err != unix.ENOTEMPTY && err != unix.EEXIST {
		return err
	}
	s.empty()
	return eintr.Retry(func() error { return unix.Unlinkat(s.parent, s.Name, unix.AT_REMOVEDIR) })
}

// empty unlinks every entry of the stage through its descriptor. Only we
// can create entries in it, so they are non-directories of our own making.
func (s *Dir) empty() {
	// A fresh open rather than a dup of s.Fd: btrfs (Linux 6.5 and later)
	// lists through an open directory only the entries that existed when it
	// was opened, and s.Fd was opened while the stage was empty.
	nfd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(s.Fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(nfd), s.Name)
	names, _ := f.Readdirnames(-1)
	f.Close()
	for _, n := range names {
		eintr.Retry(func() error { return unix.Unlinkat(s.Fd, n, 0) })
	}
}
