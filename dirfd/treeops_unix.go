//go:build unix

package dirfd

import (
	"errors"
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
)

// ErrHardLinked is matched by the error ChownTree and ChmodTree report for
// a regular file they left unchanged because it has more than one link and
// the kernel does not restrict who may make hard links
// (fs.protected_hardlinks is 0, or a system without such a rule).
var ErrHardLinked = errors.New("left unchanged: a regular file with several hard links, and anyone may hard-link a file from outside the tree here (fs.protected_hardlinks is off)")

// errUnpinnable refuses, in Strict mode, the one change that cannot be
// pinned to the object: a symlink or device where hard links are
// unrestricted and there is no O_PATH to open it without following it or
// waking a driver.
var errUnpinnable = fmt.Errorf("%w: a symlink or device can be changed only by name here (no O_PATH), where an unrestricted hard link could be swapped in", errors.ErrUnsupported)

// ChownTree changes the owner and group of name and of everything below it,
// as chown -R -h does: symlinks themselves, never followed; uid or gid -1
// leaves that one unchanged. It walks as WalkDir does (by descriptor,
// bounded, not into other mounts unless CrossMounts), acts on each entry
// relative to the directory the walk holds with AT_SYMLINK_NOFOLLOW, and
// spends no change on an object that already has the owner and group (one
// fstatat to know it; unlike chown(1), which calls chown(2) anyway, that
// also leaves such an object's set-group-ID bit alone). An entry that cannot be changed does not stop the
// others; the first error is returned, naming the entry.
//
// Hard links: where the kernel lets anyone hard-link any file
// (fs.protected_hardlinks = 0 on Linux; the BSDs and macOS by default), an
// attacker can put a link to /etc/shadow inside the tree, and a recursive
// chown run as root would hand it over. There, as systemd-tmpfiles does,
// each object is opened (O_PATH where there is one) and checked through
// that descriptor, a regular file with more than one link is left
// unchanged and reported with ErrHardLinked, and the change is made
// through the descriptor, so no object can be swapped in between the check
// and the change. With fs.protected_hardlinks = 1 (every mainstream
// distribution) the kernel refuses such links to anyone who could not
// already write the file, and the cheaper by-name change is used.
func (d *Dir) ChownTree(name string, uid, gid int, opts ...WalkOption) error {
	want := func(_ string, st *unix.Stat_t) bool {
		return (uid != -1 && int(st.Uid) != uid) || (gid != -1 && int(st.Gid) != gid)
	}
	return d.changeTree("chownat", name, opts, want, func(o pinnedObject) error {
		return o.chown(uid, gid)
	})
}

// ChmodTree changes the mode of name and of everything below it, as chmod
// -R does: mode is called for every object except symlinks (which are
// neither changed nor followed), with its path as WalkDir names it and its
// lstat-like info, and returns the mode to set (permission, set-ID and
// sticky bits; the type bits are ignored). Returning info.Mode() leaves the
// object unchanged at no cost. A directory is changed before its contents
// are visited, as chmod -R does, so a mode that takes away its read or
// search permission makes its contents unreachable (reported, not fatal).
// Walking, errors and hard links are as for ChownTree.
func (d *Dir) ChmodTree(name string, mode func(path string, info fs.FileInfo) fs.FileMode, opts ...WalkOption) error {
	var perm uint32
	want := func(p string, st *unix.Stat_t) bool {
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return false
		}
		perm = fileinfo.Perm(mode(p, fileinfo.New(baseName(p), st)))
		return perm != uint32(st.Mode)&0o7777
	}
	return d.changeTree("chmodat", name, opts, want, func(o pinnedObject) error {
		return o.chmod(perm)
	})
}

// changeTree walks name and, for each entry that want says needs it,
// makes change on it, pinned to the object that was checked.
func (d *Dir) changeTree(op, name string, opts []WalkOption, want func(string, *unix.Stat_t) bool, change func(pinnedObject) error) error {
	var first error
	record := func(err error) {
		if first == nil {
			first = err
		}
	}
	c := treeChanger{d: d, rule: !hardlinksProtected(), want: want, change: change}
	cfg := walkOptions(opts)
	objects := 0
	err := d.walkTree(name, cfg, func(p string, e *Entry, err error) error {
		if err != nil {
			record(err)
			return nil
		}
		if err := c.apply(p, e); err != nil {
			record(&fs.PathError{Op: op, Path: p, Err: err})
		}
		if objects++; cfg.progress != nil {
			cfg.progress(objects)
		}
		return nil
	})
	if err != nil {
		return errors.Join(err, first)
	}
	return first
}

// treeChanger changes the entries of one tree operation.
type treeChanger struct {
	d *Dir
	// rule: hard links are unrestricted, so every object is pinned by a
	// descriptor and checked before it is changed (see ChownTree).
	rule   bool
	want   func(path string, st *unix.Stat_t) bool
	change func(pinnedObject) error
}

func (c *treeChanger) apply(p string, e *Entry) error {
	// Without the rule, acting on whatever the name holds when the change
	// is made is safe: AT_SYMLINK_NOFOLLOW never follows a symlink swapped
	// in, and any other object at the name is inside the tree (a hard link
	// to an outside file is one only its writers could have made).
	byName := !c.rule
	if c.rule && !c.d.sys.opath {
		// Without O_PATH, opening is the only way to pin an object, and a
		// symlink cannot be opened, nor a device without waking its
		// driver: those are changed by name, the one window where an
		// unrestricted hard link swapped in could be changed instead.
		// Strict refuses.
		if err := e.stat(); err != nil {
			return ignoreGone(err)
		}
		switch e.st.Mode & unix.S_IFMT {
		case unix.S_IFLNK, unix.S_IFCHR, unix.S_IFBLK:
			if c.d.cfg.strict && c.want(p, &e.st) {
				return errUnpinnable
			}
			byName = true
		}
	}
	if byName {
		if err := e.stat(); err != nil {
			return ignoreGone(err)
		}
		if !c.want(p, &e.st) {
			return nil
		}
		err := c.change(pinnedObject{dir: e.lv.fd(), name: e.at, byName: true})
		if errors.Is(err, unix.EOPNOTSUPP) && e.st.Mode&unix.S_IFMT != unix.S_IFLNK {
			// A mode change by name refused for a symlink: one was put
			// at the name since it was looked at, and was not followed.
			return fmt.Errorf("%w: swapped for a symlink while being changed", ErrChanged)
		}
		return ignoreGone(err)
	}
	fd, err := openat(e.lv.fd(), e.at, c.d.pinFlags(), 0)
	if err != nil {
		return ignoreGone(err)
	}
	defer closeFd(fd)
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &e.st) }); err != nil {
		return err
	}
	e.statted = true
	switch {
	case !c.want(p, &e.st):
		return nil
	case e.st.Mode&unix.S_IFMT == unix.S_IFREG && e.st.Nlink > 1:
		return ErrHardLinked
	}
	return c.change(pinnedObject{dir: fd})
}

// ignoreGone drops ENOENT: the entry went away since it was listed, and
// there is nothing left to change.
func ignoreGone(err error) error {
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// pinnedObject is the object a tree operation changes: an open descriptor
// of it, checked, or (byName) its name in the directory the walk holds,
// changed with AT_SYMLINK_NOFOLLOW.
type pinnedObject struct {
	dir    int
	name   string
	byName bool
}

func (o pinnedObject) chown(uid, gid int) error {
	if o.byName {
		return eintr.Retry(func() error { return unix.Fchownat(o.dir, o.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW) })
	}
	return eintr.Retry(func() error { return chownPinned(o.dir, uid, gid) })
}

func (o pinnedObject) chmod(mode uint32) error {
	if o.byName {
		return eintr.Retry(func() error { return object{dir: o.dir, name: o.name}.chmod(mode) })
	}
	return eintr.Retry(func() error { return chmodPinned(o.dir, mode) })
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}
