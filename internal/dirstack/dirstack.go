//go:build unix

// Package dirstack holds the directories of a depth-first descent by
// descriptor, within a fixed bound on descriptors however deep the tree.
//
// A descent that opens each directory from its parent's descriptor with
// O_NOFOLLOW never resolves a path, so nothing an attacker renames can
// lead it out of the tree on the way down. On the way back up, it needs the
// parent's descriptor again; holding every one would run out of
// descriptors on a deep tree (an attacker can make one 10,000 levels deep
// in a moment). So only the deepest Max levels are held; a level above
// them is released, and re-entered on the way back by opening ".." from
// its child, which must lead to the very directory that was left (device,
// inode and, on Linux, mount ID): otherwise someone moved the directory
// the descent was in, ".." now leads elsewhere, possibly outside, and the
// descent must stop.
package dirstack

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// DirFlags opens a directory of the descent from its parent: never
// through a symlink, never anything but a directory, readable for
// getdents, close-on-exec (G4).
const DirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC

// ID identifies a directory. Mnt is 0 where the system has no mount ID.
type ID struct{ Dev, Ino, Mnt uint64 }

// SameMount reports whether two directories are on the same mount.
func (id ID) SameMount(other ID) bool { return id.Dev == other.Dev && id.Mnt == other.Mnt }

func identifyByFstat(fd int) (ID, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return ID{}, err
	}
	return ID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil
}

// Level is one directory of the descent.
type Level struct {
	Name string // its name in the level above
	ID   ID
	fd   int // -1 while released
}

// Held reports whether the level's descriptor is open.
func (l *Level) Held() bool { return l.fd >= 0 }

// Fd is the level's descriptor, or -1 while it is released. It stays owned
// by the Stack.
func (l *Level) Fd() int { return l.fd }

// Stack is the chain of directories from the top of a descent to where it
// is now. It owns their descriptors.
type Stack struct {
	max    int
	moved  error
	levels []*Level
	held   int
}

// New returns an empty Stack that holds at most max descriptors (one more
// for a moment while re-entering a level) and reports a directory that was
// moved meanwhile with moved.
func New(max int, moved error) *Stack { return &Stack{max: max, moved: moved} }

// Len is the number of levels.
func (s *Stack) Len() int { return len(s.levels) }

// Held is the number of levels whose descriptor is open.
func (s *Stack) Held() int { return s.held }

// Level returns level i, 0 being the top.
func (s *Stack) Level(i int) *Level { return s.levels[i] }

// Fd is the descriptor of the deepest level, which is always held.
func (s *Stack) Fd() int { return s.levels[len(s.levels)-1].fd }

// Push adds fd, a directory opened from the deepest level (or from the
// descent's base) as name, and takes ownership of it. When that makes
// more than max levels held, the shallowest held one is released, and
// returned so that the caller can drop what it kept with the descriptor.
func (s *Stack) Push(name string, fd int, id ID) (released *Level) {
	s.levels = append(s.levels, &Level{Name: name, ID: id, fd: fd})
	if s.held++; s.held > s.max {
		released = s.levels[len(s.levels)-s.held]
		s.release(released)
	}
	return released
}

// Pop removes the deepest level and closes its descriptor. If the level
// above it had been released, it is re-entered first, through ".." of the
// level left, and reentered says so; if ".." is not the directory it was,
// Pop returns the Stack's moved error, the level above stays released and
// the descent must stop.
func (s *Stack) Pop() (reentered bool, err error) {
	l := s.levels[len(s.levels)-1]
	s.levels = s.levels[:len(s.levels)-1]
	defer s.release(l)
	if len(s.levels) == 0 {
		return false, nil
	}
	parent := s.levels[len(s.levels)-1]
	if parent.Held() {
		return false, nil
	}
	fd, err := eintr.Retry1(func() (int, error) { return unix.Openat(l.fd, "..", DirFlags, 0) })
	if err != nil {
		return false, err
	}
	id, err := Identify(fd)
	if err == nil && id != parent.ID {
		err = s.moved
	}
	if err != nil {
		unix.Close(fd)
		return false, err
	}
	parent.fd = fd
	s.held++
	return true, nil
}

func (s *Stack) release(l *Level) {
	if l.fd < 0 {
		return
	}
	unix.Close(l.fd)
	l.fd = -1
	s.held--
}

// Close releases every level.
func (s *Stack) Close() {
	for _, l := range s.levels {
		s.release(l)
	}
	s.levels = nil
}
