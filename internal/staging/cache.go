//go:build unix

package staging

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxCached bounds how many directories one Cache keeps: a Dir writing
// into more parents than this pays for a mkdirat and an rmdir now and
// then, never for an unbounded number of descriptors or leftovers.
const MaxCached = 8

// Cache keeps private directories for reuse (S3): at most one per parent
// directory (on one mount) and kind, and at most MaxCached in all, each
// made on first need and removed by Close. It is safe for concurrent use.
// A nil *Cache keeps nothing: Acquire makes a directory and Release
// removes it, which is what the descriptor-level packages do for callers
// that hold no Cache.
//
// Keeping a directory is safe for as long as we like: nobody else can
// create, rename or remove an entry in it (S1), and nobody but root (or
// us) can move it to another parent, because moving a directory to
// another parent rewrites its "..", which needs write permission on the
// directory itself. What another user who can write the parent can do to
// it: rename it within the parent (we use it through its descriptor, so
// it does not matter), or remove it while it is empty (then the next use
// fails with ENOENT, and Do drops it and makes a new one).
type Cache struct {
	mu      sync.Mutex
	entries []*cached
	clock   uint64
	closed  bool
	// home is a descriptor that stays open as long as the Cache is used
	// (a Dir's own), whose key is read once rather than at every Acquire.
	home     int
	homeSet  bool
	homeKey  parentKey
	homeRead bool
}

// SetHome names a directory descriptor that the caller keeps open, and
// unchanged, for as long as it uses the Cache (before Close): an Acquire
// for it skips the statx that identifies any other parent.
func (c *Cache) SetHome(fd int) {
	c.mu.Lock()
	c.home, c.homeSet, c.homeRead = fd, true, false
	c.mu.Unlock()
}

type cached struct {
	key     parentKey
	kind    Kind
	s       *Dir
	users   int
	used    uint64 // the Cache's clock at the last Acquire: the least recent is evicted first
	dropped bool   // no longer in entries: removed by its last Release
}

// parentKey identifies a parent directory on one mount: a directory that
// is bind-mounted elsewhere has the same inode there, but a rename from a
// directory on one mount to one on the other fails with EXDEV.
type parentKey struct {
	dev, ino, mnt uint64
}

// Acquire returns the directory of kind kept for parent, making and
// verifying one (S1) on first need. The caller must Release it.
func (c *Cache) Acquire(parent int, kind Kind) (*Dir, error) {
	if c == nil {
		return Create(parent, kind)
	}
	key, err := c.key(parent)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Create(parent, kind)
	}
	c.clock++
	for _, e := range c.entries {
		if e.key == key && e.kind == kind {
			e.users++
			e.used = c.clock
			c.mu.Unlock()
			return e.s, nil
		}
	}
	c.mu.Unlock()

	// Made outside the lock: it takes several system calls. Two
	// goroutines that miss together both make one; the second to finish
	// keeps its own uncached and removes it on Release.
	s, err := Create(parent, kind)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return s, nil
	}
	for _, e := range c.entries {
		if e.key == key && e.kind == kind {
			return s, nil
		}
	}
	if len(c.entries) >= MaxCached && !c.evictLocked() {
		return s, nil
	}
	e := &cached{key: key, kind: kind, s: s, users: 1, used: c.clock}
	s.entry = e
	c.entries = append(c.entries, e)
	return s, nil
}

// key identifies parent; the home descriptor's key is read once.
func (c *Cache) key(parent int) (parentKey, error) {
	c.mu.Lock()
	home := c.homeSet && parent == c.home
	if home && c.homeRead {
		k := c.homeKey
		c.mu.Unlock()
		return k, nil
	}
	c.mu.Unlock()
	k, err := keyOf(parent)
	if err == nil && home {
		c.mu.Lock()
		c.homeKey, c.homeRead = k, true
		c.mu.Unlock()
	}
	return k, err
}

// evictLocked drops the least recently used directory nobody is using,
// and reports whether there was one.
func (c *Cache) evictLocked() bool {
	victim := -1
	for i, e := range c.entries {
		if e.users == 0 && (victim < 0 || e.used < c.entries[victim].used) {
			victim = i
		}
	}
	if victim < 0 {
		return false
	}
	e := c.entries[victim]
	c.entries = append(c.entries[:victim], c.entries[victim+1:]...)
	e.s.Remove()
	return true
}

// Release ends one use of s. An uncached directory is removed (it must be
// empty by now: S2); a cached one stays for the next Acquire, unless the
// Cache has been closed or has dropped it meanwhile.
func (c *Cache) Release(s *Dir) error {
	e := s.entry
	if c == nil || e == nil {
		return s.Remove()
	}
	c.mu.Lock()
	e.users--
	last := e.users == 0 && e.dropped
	c.mu.Unlock()
	if last {
		return s.Remove()
	}
	return nil
}

// Drop makes the Cache forget s (it has been removed from under us, see
// Gone, or holds a leftover that must stay), and ends this use of it: s
// is closed once nobody uses it any more, and left where it is.
func (c *Cache) Drop(s *Dir) {
	e := s.entry
	if c == nil || e == nil {
		s.Close()
		return
	}
	c.mu.Lock()
	if !e.dropped {
		e.dropped = true
		for i, x := range c.entries {
			if x == e {
				c.entries = append(c.entries[:i], c.entries[i+1:]...)
				break
			}
		}
	}
	e.users--
	last := e.users == 0
	c.mu.Unlock()
	if last {
		// Not Remove: it is gone, or holds something to keep.
		s.entry = nil
		s.Close()
	}
}

// Do runs f with the directory of kind kept for parent (see Hold) and
// releases it.
func (c *Cache) Do(parent int, kind Kind, f func(s *Dir) error) error {
	s, err := c.Hold(parent, kind, f)
	if err != nil {
		return err
	}
	return c.Release(s)
}

// Hold runs f with the directory of kind kept for parent and, if f
// succeeds, returns the directory still acquired: the caller must Release
// it (f has put something in it to be dealt with later). If f fails, the
// directory is released and f's error returned; if f fails with ENOENT
// because the directory has been removed from under us (see Gone), f runs
// once more with a new one, so f must fail that way before it has done
// anything. A failure to make the directory is a *CreateError.
func (c *Cache) Hold(parent int, kind Kind, f func(s *Dir) error) (*Dir, error) {
	for try := 0; ; try++ {
		s, err := c.Acquire(parent, kind)
		if err != nil {
			return nil, &CreateError{Err: err}
		}
		err = f(s)
		if err == nil {
			return s, nil
		}
		if try == 0 && errors.Is(err, unix.ENOENT) && s.Gone() {
			c.Drop(s)
			continue
		}
		c.Release(s)
		return nil, err
	}
}

// CreateError is a failure to make a private directory (ENOSPC, EDQUOT,
// EACCES, EMLINK, ...): nothing else was done.
type CreateError struct{ Err error }

func (e *CreateError) Error() string { return "making a private directory: " + e.Err.Error() }

// Unwrap returns the error of making the directory.
func (e *CreateError) Unwrap() error { return e.Err }

// Close removes every kept directory that nobody is using and marks the
// rest to be removed by their last Release; later Acquires make
// directories that are removed at Release. A directory that cannot be
// removed (not empty: an operation left something it could not remove) is
// left for dirfd.Dir.RemoveStale, and the first such error is returned.
func (c *Cache) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	c.closed = true
	entries := c.entries
	c.entries = nil
	var idle []*Dir
	for _, e := range entries {
		e.dropped = true
		if e.users == 0 {
			idle = append(idle, e.s)
		}
	}
	c.mu.Unlock()
	var first error
	for _, s := range idle {
		if err := s.Remove(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
