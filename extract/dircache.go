package extract

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"syscall"

	"github.com/racefree/racefree/dirfd"
)

// dirCache holds open the directories that entries go into, so that an
// entry costs no lookup of its directory: the next entry of the same
// directory acts on the descriptor the last one used.
//
// Only "plain" directories are kept: reached from the top one real
// directory at a time, never through a symlink, "." or "..". An archive
// entry can never replace a directory (that is an error), so what a plain
// key designates cannot be changed by a later entry of the archive; only a
// whiteout removes directories, and it clears the cache. A directory
// reached through a symlink or ".." is resolved from the top by dst's own
// rules for each entry, because a later entry may replace that symlink.
//
// Another user may rename a held directory meanwhile; the entries then go
// on into that directory, wherever inside the tree it now is. That is the
// guarantee of every handle (G1: an object that was inside the tree at
// some instant during the operation is not an escape), and moving it
// outside needs write access outside, which that user would need to plant
// the files there directly too.
type dirCache struct {
	root *dirfd.Dir
	keys []string // least recently used first
	open map[string]*dirfd.Dir
	// transient is the last directory resolved through a symlink or "..",
	// used for one entry and closed at the next lookup.
	transient *dirfd.Dir
	// reserve is asked before n missing directories are made, for
	// Limits: an entry's missing parents count as entries.
	reserve func(n int) error
	// made counts the directories made that no directory entry named.
	made int
}

// cacheSize bounds the descriptors held: enough for the directories an
// archive made by tar or zip interleaves (a directory's files, its
// subdirectories', and its files again).
const cacheSize = 32

// get returns the directory key of dst, making it and its missing parents
// (0755 less the umask, as tar makes them).
func (c *dirCache) get(key string) (*dirfd.Dir, error) {
	if key == "" {
		return c.root, nil
	}
	if d := c.lookup(key); d != nil {
		return d, nil
	}
	c.dropTransient()
	if plain(key) {
		parentKey, last := splitEntry(key)
		pd, err := c.get(parentKey)
		if err != nil {
			return nil, err
		}
		if c.isPlain(parentKey) {
			d, err := c.child(pd, last)
			if err != nil || d != nil {
				if d != nil {
					c.put(key, d)
				}
				return d, err
			}
		}
		c.dropTransient()
	}
	// Through a symlink or "..": resolved from the top with dst's
	// containment, which refuses (Beneath) or clamps (InRoot) a way out.
	d, err := c.root.OpenDir(key)
	if errors.Is(err, fs.ErrNotExist) {
		// How many of its components are missing is not known here: each
		// may be, and counts.
		n := strings.Count(key, "/") + 1
		if err = c.reserve(n); err == nil {
			err = c.root.MkdirAll(key, 0o755)
			c.made += n
		}
		if err == nil {
			d, err = c.root.OpenDir(key)
		}
	}
	if err != nil {
		return nil, err
	}
	c.transient = d
	return d, nil
}

// plain reports whether key has only real names as components.
func plain(key string) bool {
	for part := range strings.SplitSeq(key, "/") {
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}

// child opens the directory last in pd, making it if missing, or returns
// nil, nil when last is a symlink, which the caller resolves from the top.
func (c *dirCache) child(pd *dirfd.Dir, last string) (*dirfd.Dir, error) {
	if err := c.reserve(1); err != nil {
		return nil, err
	}
	if err := pd.Mkdir(last, 0o755); err == nil {
		c.made++
	} else if errors.Is(err, fs.ErrExist) {
		fi, err := pd.Lstat(last)
		switch {
		case err != nil:
			return nil, err
		case fi.Mode()&fs.ModeSymlink != 0:
			return nil, nil
		case !fi.IsDir():
			return nil, &fs.PathError{Op: "open", Path: last, Err: syscall.ENOTDIR}
		}
	} else if err != nil {
		return nil, err
	}
	return pd.OpenDir(last)
}

// adopt keeps d, the directory last just made or checked in the directory
// dir, if dir is plain.
func (c *dirCache) adopt(dir, last string, d *dirfd.Dir) {
	if c.isPlain(dir) {
		c.put(joinEntry(dir, last), d)
		return
	}
	c.dropTransient()
	c.transient = d
}

func (c *dirCache) isPlain(key string) bool {
	if key == "" {
		return true
	}
	_, ok := c.open[key]
	return ok
}

func (c *dirCache) lookup(key string) *dirfd.Dir {
	d, ok := c.open[key]
	if ok {
		i := slices.Index(c.keys, key)
		c.keys = append(slices.Delete(c.keys, i, i+1), key)
	}
	return d
}

func (c *dirCache) put(key string, d *dirfd.Dir) {
	if old, ok := c.open[key]; ok {
		old.Close()
		i := slices.Index(c.keys, key)
		c.keys = slices.Delete(c.keys, i, i+1)
	}
	if c.open == nil {
		c.open = map[string]*dirfd.Dir{}
	}
	if len(c.keys) >= cacheSize {
		c.open[c.keys[0]].Close()
		delete(c.open, c.keys[0])
		c.keys = c.keys[1:]
	}
	c.open[key] = d
	c.keys = append(c.keys, key)
}

func (c *dirCache) dropTransient() {
	if c.transient != nil {
		c.transient.Close()
		c.transient = nil
	}
}

// clear closes everything held.
func (c *dirCache) clear() {
	for _, d := range c.open {
		d.Close()
	}
	c.open, c.keys = nil, nil
	c.dropTransient()
}
