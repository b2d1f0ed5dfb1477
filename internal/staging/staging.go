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
	"errors"
	"fmt"
	"os"

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
// their own in its place.
func (s *Dir) verify() error {
	if err := eintr.Retry(func() error { return unix.Fstat(s.Fd, &s.st) }); err != nil {
		return err
	}
	switch {
	case s.st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return fmt.Errorf("staging directory %s is not a directory", s.Name)
	case int(s.st.Uid) != os.Geteuid():
		return fmt.Errorf("staging directory %s is owned by uid %d, not by us", s.Name, s.st.Uid)
	case s.st.Mode&0o077 != 0:
		return fmt.Errorf("staging directory %s is accessible to others (mode %o)", s.Name, s.st.Mode&0o777)
	}
	return nil
}

// Remove removes the staging directory and closes it. The directory is
// removed by name only while that name still refers to it, so an attacker
// who renamed ours away and put something else there loses nothing. Entries
// left inside (after a failed operation) are removed through the
// descriptor first.
func (s *Dir) Remove() error {
	defer unix.Close(s.Fd)
	var now unix.Stat_t
	if err := unix.Fstatat(s.parent, s.Name, &now, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if now.Dev != s.st.Dev || now.Ino != s.st.Ino {
		return errors.New("staging directory was replaced; left the stranger's object alone")
	}
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
	nfd, err := unix.FcntlInt(uintptr(s.Fd), unix.F_DUPFD_CLOEXEC, 0)
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
