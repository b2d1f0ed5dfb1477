package extract

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/racefree/racefree/dirfd"
)

// extractor applies entries to dst, one at a time.
type extractor struct {
	dst   *dirfd.Dir
	cfg   config
	stats Stats
	dirs  dirCache
	// pending holds the directories whose mode, owner and times are
	// applied after their children, at the end.
	pending []pendingDir
	// made lists, per directory, the names this archive put there, for the
	// whiteouts, which must leave those alone (Whiteouts only).
	made map[string]map[string]bool
	// buf carries every file's content: one buffer for the extraction,
	// not one per file (io.Copy's 32 KiB each time would be most of the
	// cost of a small file).
	buf []byte
}

// copyBuffer is the size of extractor.buf, a multiple of sparseBlock.
const copyBuffer = 64 * sparseBlock

// writerOnly hides *os.File's ReadFrom, which for a reader that is not a
// file falls back to io.Copy with a buffer of its own, so that
// io.CopyBuffer uses ours.
type writerOnly struct{ io.Writer }

// pendingDir is a directory entry's metadata, waiting for the end.
type pendingDir struct {
	e   *entry
	key string      // its name in dst
	id  fs.FileInfo // the directory made or kept, to act on it only
}

func newExtractor(dst *dirfd.Dir, opts []Option) *extractor {
	x := &extractor{dst: dst, dirs: dirCache{root: dst}, buf: make([]byte, copyBuffer)}
	for _, o := range opts {
		o(&x.cfg)
	}
	x.dirs.reserve = func(n int) error {
		// n directories more, and the entry they are made for.
		if x.cfg.maxFiles > 0 && x.entries()+n+1 > x.cfg.maxFiles {
			return fmt.Errorf("%w: more than %d entries with the directories made for them", ErrLimit, x.cfg.maxFiles)
		}
		return nil
	}
	if x.cfg.whiteouts {
		x.made = map[string]map[string]bool{}
	}
	return x
}

// finish closes what the extraction holds and applies the pending
// directories' metadata, whether the extraction succeeded or not (tar
// does the same: a directory left 0700 by an extraction cut short would be
// a surprise of its own), and returns err joined with what finishing
// found. The held directories are closed first: closing one removes the
// Dir's private stage in it, which a read-only mode set first would
// forbid.
func (x *extractor) finish(err error) (Stats, error) {
	x.dirs.clear()
	err = errors.Join(err, x.applyPending())
	return x.stats, err
}

// apply extracts one entry.
func (x *extractor) apply(e *entry) error {
	if x.cfg.maxFiles > 0 && x.entries() >= x.cfg.maxFiles {
		return limitError(e, "more than %d entries", x.cfg.maxFiles)
	}
	name, err := localName(e.name)
	if err != nil {
		return entryError(e, "", err)
	}
	dir, last := splitEntry(name)
	if x.cfg.whiteouts && strings.HasPrefix(last, whiteoutPrefix) {
		err = x.whiteout(e, dir, last)
	} else {
		err = x.make(e, name, dir, last)
	}
	if err == nil && x.cfg.progress != nil {
		x.cfg.progress(x.stats)
	}
	return err
}

// entries counts the entries applied so far, and the directories made
// for them that the archive did not list, for Limits.
func (x *extractor) entries() int {
	s := x.stats
	return s.Files + s.Dirs + s.Symlinks + s.Hardlinks + s.Nodes + s.Whiteouts + s.Skipped + x.dirs.made
}

func (x *extractor) make(e *entry, name, dir, last string) error {
	if e.kind == kindSkip || e.kind == kindNode && !x.cfg.devices {
		x.stats.Skipped++
		return nil
	}
	if e.kind == kindDir {
		return x.directory(e, dir, last)
	}
	if last == "" || strings.HasSuffix(name, "/") {
		// "a/..", ".", "x/": names of directories, not of an entry a
		// file or link could take.
		return entryError(e, "", fmt.Errorf("%w: names a directory", errBadName))
	}
	pd, err := x.dirs.get(dir)
	if err != nil {
		return entryError(e, "", fmt.Errorf("directory %q: %w", dir, unwrapOne(err)))
	}
	switch e.kind {
	case kindFile:
		err = x.file(pd, e, last)
	case kindSymlink:
		err = x.symlink(pd, e, last)
	case kindHardlink:
		err = x.hardlink(pd, e, dir, last)
	case kindNode:
		err = x.node(pd, e, last)
	}
	if err == nil {
		x.remember(dir, last)
	}
	return err
}

// remember notes that the archive put last into dir, for the whiteouts.
func (x *extractor) remember(dir, last string) {
	if x.made == nil {
		return
	}
	if x.made[dir] == nil {
		x.made[dir] = map[string]bool{}
	}
	x.made[dir][last] = true
}

// directory makes (or keeps) a directory and leaves its metadata for the
// end. It is made mode 0700, so nobody else can enter it or see into it
// before its final mode is set.
func (x *extractor) directory(e *entry, dir, last string) error {
	var d *dirfd.Dir
	key := joinEntry(dir, last)
	var err error
	if last == "" {
		// The directory named by position ("", "a/.."): only kept.
		d, err = x.dirs.get(dir)
	} else {
		d, err = x.mkdir(dir, last)
	}
	if err != nil {
		return entryError(e, "directory", err)
	}
	id, err := d.Stat(".")
	if err != nil {
		return entryError(e, "directory", err)
	}
	x.pending = append(x.pending, pendingDir{e: e, key: key, id: id})
	x.stats.Dirs++
	if last != "" {
		x.remember(dir, last)
	}
	return nil
}

// mkdir makes dir/last a directory and returns it opened. An existing
// directory is kept; any other object there is removed first (a symlink
// where the archive has a directory included: it is never followed).
func (x *extractor) mkdir(dir, last string) (*dirfd.Dir, error) {
	pd, err := x.dirs.get(dir)
	if err != nil {
		return nil, fmt.Errorf("directory %q: %w", dir, unwrapOne(err))
	}
	if err := pd.Mkdir(last, 0o700); errors.Is(err, fs.ErrExist) {
		fi, lerr := pd.Lstat(last)
		switch {
		case lerr != nil:
			return nil, lerr
		case !fi.IsDir():
			if err := pd.Remove(last); err != nil {
				return nil, err
			}
			if err := pd.Mkdir(last, 0o700); err != nil {
				return nil, err
			}
		}
	} else if err != nil {
		return nil, err
	}
	// Opened relative to its parent, by its plain name: the directory just
	// made or checked. A symlink put there since is resolved in pd's tree
	// only, and a directory another user swapped in is caught by the
	// identity check of the pending metadata.
	d, err := pd.OpenDir(last)
	if err != nil {
		return nil, err
	}
	x.dirs.adopt(dir, last, d)
	return d, nil
}

// file writes a regular file in private and links it in complete.
func (x *extractor) file(pd *dirfd.Dir, e *entry, last string) error {
	if x.cfg.maxBytes > 0 && e.size > x.cfg.maxBytes-x.stats.Bytes {
		return limitError(e, "more than %d bytes", x.cfg.maxBytes)
	}
	var n int64
	timesSet := e.mtime.IsZero() && e.atime.IsZero()
	err := pd.ReplaceFile(last, 0o600, func(f *os.File) (err error) {
		if n, err = e.write(f); err != nil {
			return err
		}
		if err := x.fileMetadata(f, e); err != nil || timesSet {
			return err
		}
		timesSet, err = setFileTimes(f, e.atime, e.mtime)
		return err
	})
	if err != nil {
		return entryError(e, "file", err)
	}
	if !timesSet {
		if err := x.times(pd, e, last); err != nil {
			return err
		}
	}
	x.stats.Files++
	x.stats.Bytes += n
	return nil
}

// fileMetadata gives the unnamed file its owner, mode and extended
// attributes before it has a name, in that order: fchown clears set-ID
// bits and security.capability.
func (x *extractor) fileMetadata(f *os.File, e *entry) error {
	owned := false
	if x.chowns(e) {
		if err := f.Chown(e.uid, e.gid); err != nil {
			return err
		}
		owned = true
	}
	if err := f.Chmod(x.mode(e, owned)); err != nil {
		return err
	}
	if x.cfg.xattrs && len(e.xattrs) > 0 {
		return setXattrs(f, x.xattrs(e, owned))
	}
	return nil
}

// xattrs are the entry's extended attributes as extracted: a file
// capability (security.capability) grants privilege to whoever runs the
// file, as a set-user-ID bit does, and so rides along only where set-ID
// bits would (S7).
func (x *extractor) xattrs(e *entry, owned bool) map[string]string {
	if _, ok := e.xattrs[fileCapability]; !ok || x.cfg.setID && owned {
		return e.xattrs
	}
	kept := make(map[string]string, len(e.xattrs))
	for k, v := range e.xattrs {
		if k != fileCapability {
			kept[k] = v
		}
	}
	return kept
}

// fileCapability is the extended attribute holding a file's capabilities.
const fileCapability = "security.capability"

// chowns reports whether e gets the archive's owner and group.
func (x *extractor) chowns(e *entry) bool { return x.cfg.owners && e.hasOwner }

// mode is the entry's mode as extracted: set-ID bits only on an object
// that got the archive's owner and group, and only with SetID (S7).
func (x *extractor) mode(e *entry, owned bool) fs.FileMode {
	m := e.mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if !x.cfg.setID || !owned {
		m &^= fs.ModeSetuid | fs.ModeSetgid
	}
	return m
}

// times sets the entry's times on last itself, never following it. A name
// swapped by another user in the instant since the entry was linked can
// only get the times: a name inside dst either way.
func (x *extractor) times(pd *dirfd.Dir, e *entry, last string) error {
	if e.mtime.IsZero() && e.atime.IsZero() {
		return nil
	}
	if err := pd.Lchtimes(last, e.atime, e.mtime); err != nil {
		return entryError(e, "times", err)
	}
	return nil
}

// symlink makes last a symlink to the entry's target, stored as given:
// following it later is resolved, and judged, like any other name.
func (x *extractor) symlink(pd *dirfd.Dir, e *entry, last string) error {
	if e.linkname == "" || strings.IndexByte(e.linkname, 0) >= 0 {
		return entryError(e, "symlink", fmt.Errorf("%w: empty symlink target", fs.ErrInvalid))
	}
	err := pd.Symlink(e.linkname, last)
	if errors.Is(err, fs.ErrExist) {
		err = replaceNonDir(pd, last, func() error { return pd.ReplaceSymlink(e.linkname, last) })
	}
	if err != nil {
		return entryError(e, "symlink", err)
	}
	if x.chowns(e) {
		if err := pd.Lchown(last, e.uid, e.gid); err != nil {
			return entryError(e, "symlink", err)
		}
	}
	if err := x.times(pd, e, last); err != nil {
		return err
	}
	x.stats.Symlinks++
	return nil
}

// hardlink links last to the object the entry's target names in dst. The
// target is resolved like an entry's name (the same stripping, the same
// containment), must not be a directory, and is pinned by a handle that
// is then linked: the object checked is the object linked.
func (x *extractor) hardlink(pd *dirfd.Dir, e *entry, dir, last string) error {
	target, err := localName(e.linkname)
	if err == nil && target == "" {
		err = fmt.Errorf("%w: a hard link to the destination itself", errBadName)
	}
	if err != nil {
		return entryError(e, "hard link", err)
	}
	h, err := x.dst.OpenHandle(target)
	if err != nil {
		return entryError(e, "hard link", fmt.Errorf("target %q: %w", e.linkname, unwrapOne(err)))
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return entryError(e, "hard link", err)
	}
	if fi.IsDir() {
		return entryError(e, "hard link", fmt.Errorf("target %q is a directory: %w", e.linkname, syscall.EPERM))
	}
	err = pd.ReplaceLinkHandle(h, last)
	if errors.Is(err, errors.ErrUnsupported) {
		// No way to link a descriptor here (other systems, or a Linux
		// without either route): by name, inside dst. The target is
		// resolved again, with the same containment, so at worst another
		// object inside dst is linked.
		err = x.dst.ReplaceLink(target, joinEntry(dir, last))
	}
	if err != nil {
		return entryError(e, "hard link", err)
	}
	x.stats.Hardlinks++
	return nil
}

// node makes a device or FIFO (Devices only). An existing non-directory at
// last is removed first: a node is never half-made, so there is nothing a
// reader could see in between but a missing name.
func (x *extractor) node(pd *dirfd.Dir, e *entry, last string) error {
	err := pd.Mknod(last, e.mode, e.major, e.minor)
	if errors.Is(err, fs.ErrExist) {
		err = replaceNonDir(pd, last, func() error {
			if err := pd.Remove(last); err != nil {
				return err
			}
			return pd.Mknod(last, e.mode, e.major, e.minor)
		})
	}
	if err != nil {
		return entryError(e, "node", err)
	}
	if err := x.nodeMetadata(pd, e, last); err != nil {
		return entryError(e, "node", err)
	}
	if err := x.times(pd, e, last); err != nil {
		return err
	}
	x.stats.Nodes++
	return nil
}

// errDirInTheWay refuses to replace a directory by any other entry.
var errDirInTheWay = fmt.Errorf("a directory is in the way: %w", syscall.EISDIR)

// replaceNonDir runs replace for an entry whose name is taken, unless a
// directory has it: whatever filesystem answers a rename over a directory
// (EISDIR, ENOTEMPTY, EEXIST), the entry's error says the same thing.
func replaceNonDir(pd *dirfd.Dir, last string, replace func() error) error {
	if fi, err := pd.Lstat(last); err == nil && fi.IsDir() {
		return errDirInTheWay
	}
	return replace()
}

// nodeMetadata gives a node its owner and exact mode through a handle of
// the node itself (Mknod applied the umask).
func (x *extractor) nodeMetadata(pd *dirfd.Dir, e *entry, last string) error {
	h, err := pd.OpenHandle(last)
	if err != nil {
		return err
	}
	defer h.Close()
	if x.chowns(e) {
		if err := h.Chown(e.uid, e.gid); err != nil {
			return err
		}
	}
	return h.Chmod(x.mode(e, x.chowns(e)))
}

// whiteout applies an OCI whiteout: ".wh.NAME" removes NAME from dir,
// ".wh..wh..opq" everything in dir the archive did not make. Both act
// through dir's descriptor on single names, and RemoveAll never follows a
// symlink, so nothing outside dst can be reached.
func (x *extractor) whiteout(e *entry, dir, last string) error {
	pd, err := x.dirs.get(dir)
	if err != nil {
		return entryError(e, "whiteout", fmt.Errorf("directory %q: %w", dir, unwrapOne(err)))
	}
	var victims []string
	if last == opaqueWhiteout {
		entries, err := pd.ReadDir(".")
		if err != nil {
			return entryError(e, "whiteout", err)
		}
		for _, de := range entries {
			victims = append(victims, de.Name())
		}
	} else {
		victim := strings.TrimPrefix(last, whiteoutPrefix)
		if victim == "" || victim == "." || victim == ".." {
			return entryError(e, "whiteout", errBadWhiteout)
		}
		victims = []string{victim}
	}
	for _, v := range victims {
		if x.made[dir][v] {
			continue // the same layer's own: only a later layer hides it
		}
		if err := pd.RemoveAll(v); err != nil {
			return entryError(e, "whiteout", err)
		}
	}
	// Directories held open may be gone now (pd with them, so only now).
	x.dirs.clear()
	x.stats.Whiteouts++
	return nil
}

// applyPending gives every directory entry its metadata, deepest first so
// that a parent's mode (0500, say) cannot stop the change of a child. A
// directory is changed only if the name still refers to the directory the
// entry made or kept: one replaced since (by a later entry, a whiteout, or
// another user) is left alone.
func (x *extractor) applyPending() error {
	slices.SortStableFunc(x.pending, func(a, b pendingDir) int {
		return strings.Count(b.key, "/") - strings.Count(a.key, "/")
	})
	var errs []error
	for _, p := range x.pending {
		if err := x.applyDir(p); err != nil {
			errs = append(errs, entryError(p.e, "directory", err))
		}
	}
	x.pending = nil
	return errors.Join(errs...)
}

func (x *extractor) applyDir(p pendingDir) error {
	d := x.dst
	if p.key != "" {
		var err error
		if d, err = x.dst.OpenDir(p.key); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed since, by a whiteout or another user
			}
			return err
		}
		defer d.Close()
	}
	if fi, err := d.Stat("."); err != nil || !os.SameFile(fi, p.id) {
		return err
	}
	owned := false
	if x.chowns(p.e) {
		if err := d.Lchown(".", p.e.uid, p.e.gid); err != nil {
			return err
		}
		owned = true
	}
	if x.cfg.xattrs && len(p.e.xattrs) > 0 {
		f, err := d.Open(".")
		if err != nil {
			return err
		}
		err = setXattrs(f, x.xattrs(p.e, owned))
		f.Close()
		if err != nil {
			return err
		}
	}
	if err := d.Chmod(".", x.mode(p.e, owned)); err != nil {
		return err
	}
	if p.e.mtime.IsZero() && p.e.atime.IsZero() {
		return nil
	}
	return d.Chtimes(".", p.e.atime, p.e.mtime)
}

// unwrapOne drops the Dir's own *fs.PathError or *os.LinkError, whose name
// is relative to some directory, for a message that names the archive's.
func unwrapOne(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
