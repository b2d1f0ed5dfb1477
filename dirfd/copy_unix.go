//go:build unix

package dirfd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/dirstack"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/linkat"
)

// errCopyIntoItself refuses a copy whose destination is inside its source:
// the walk would meet the copy it is making, without end.
var errCopyIntoItself = errors.New("cannot copy a directory into itself: the destination is inside the source")

// errSpecial refuses a FIFO, socket or device without CopySpecial.
var errSpecial = errors.New("is a FIFO, socket or device node, which is copied only with CopySpecial")

// CopyTree copies the tree at srcName in src to dstName in dst, as cp -a
// does: regular files, directories, symlinks (copied as links, never
// followed), hard links within the tree, modes with set-ID and sticky bits,
// access and modification times (symlinks' too), and owners and groups
// when running as root. FIFOs, sockets and devices are refused unless
// CopySpecial is given. dstName must not exist (an error matching
// fs.ErrExist), unless CopyInto is given. Either Dir may be a container's
// root opened InRoot: names resolve in each as that Dir says.
//
// The source is walked as WalkDir walks it and read only through the
// descriptors of the walk: a source an attacker changes during the copy
// can make the copy fail, never read anything outside src (G1). The
// destination is written only through descriptors too, each new directory
// mode 0700 until its contents are in, so no other user can add to or
// swap anything inside it while the copy runs; its real mode, owner and
// times are set after its contents.
//
// Set-ID bits ride along only where the owner and group did too (S7): a
// set-user-ID file that is not copied as its owner (not root, or chown
// refused) loses S_ISUID and S_ISGID, directories included, as cp -a does.
//
// Data is copied inside the kernel: FICLONE (a reflink, on btrfs and XFS)
// where the filesystems take it, else copy_file_range(2), else read and
// write. Holes stay holes: a sparse file's data segments are found with
// SEEK_DATA and SEEK_HOLE and only they are copied. (Elsewhere than Linux,
// read and write, and sparse files are filled.)
//
// CopyTree stops at the first error and leaves what it copied so far in
// place; compose it with Install for all or nothing. Extended attributes
// and ACLs are not copied.
func CopyTree(dst *Dir, dstName string, src *Dir, srcName string, opts ...CopyOption) error {
	c := &copier{src: src, dst: dst, root: os.Geteuid() == 0, links: map[fileKey]firstCopy{}, prevFd: -1}
	for _, o := range opts {
		o(&c.cfg)
	}
	err := c.run(dstName, srcName)
	if err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			return le
		}
		return &os.LinkError{Op: "copy", Old: srcName, New: dstName, Err: err}
	}
	return nil
}

// fileKey identifies a source file with several links, to link its other
// names to its first copy.
type fileKey struct{ dev, ino uint64 }

// firstCopy is the copy made of a source file's first name: where it is,
// relative to the top, and what it is.
type firstCopy struct {
	rel string
	id  fileKey
}

type copier struct {
	cfg      copyConfig
	src, dst *Dir
	root     bool // copy owners

	w       *walker
	dstack  *dirstack.Stack // the destination's directories, beside the walk's
	rels    []string        // their paths relative to the top, beside them
	dparent int             // the directory holding the destination's top
	dtop    string          // the destination's top, in dparent
	dstName string
	topID   dirstack.ID // the destination's top directory
	links   map[fileKey]firstCopy
	prevFd  int // prev's directory at the current level: -1 not open yet, -2 none
	noClone bool
	noRange bool
	files   int
	bytes   int64
}

func (c *copier) run(dstName, srcName string) error {
	if err := checkName(dstName); err != nil {
		return err
	}
	for _, d := range []*Dir{c.dst, c.cfg.prev} {
		if d == nil {
			continue
		}
		if err := d.ref.incref(); err != nil {
			return err
		}
		defer d.ref.decref()
	}
	dir, last := splitLast(dstName)
	c.dparent, c.dtop, c.dstName = c.dst.ref.fd, last, dstName
	if dir != "" {
		fd, err := c.dst.open(dir, c.dst.dirOpenFlags(), 0)
		if err != nil {
			return err
		}
		c.dparent = fd
		defer closeFd(fd)
	}
	if last == "." && !c.cfg.into {
		return unix.EEXIST
	}
	c.dstack = dirstack.New(maxWalkHeld, errWalkMoved)
	defer c.dstack.Close()
	defer c.closePrev()
	c.w = &walker{d: c.src, fn: c.visit, enter: c.enter, leave: c.leave}
	return c.w.run(srcName)
}

// target is where e goes: its directory in the destination and its name
// there, and its path relative to the top.
func (c *copier) target(e *Entry) (dir int, name, rel string) {
	if e.lv.isBase {
		return c.dparent, c.dtop, ""
	}
	return c.dstack.Fd(), e.at, path.Join(c.rels[len(c.rels)-1], e.at)
}

// fail names the entry an error is about, in both trees.
func (c *copier) fail(p, rel, op string, err error) error {
	return &os.LinkError{Op: op, Old: p, New: path.Join(c.dstName, rel), Err: err}
}

// visit copies one entry; a directory is made here and entered in enter.
func (c *copier) visit(p string, e *Entry, err error) error {
	if err != nil {
		return err
	}
	dir, name, rel := c.target(e)
	if e.lv.isBase && c.cfg.into {
		if !e.IsDir() {
			return c.fail(p, rel, "copy", unix.ENOTDIR)
		}
		return e.stat() // for the top's owner and times, set in leave
	}
	if e.Type()&fs.ModeType == 0 {
		return c.copyFile(p, e, dir, name, rel)
	}
	if err := e.stat(); err != nil {
		return c.fail(p, rel, "fstatat", err)
	}
	switch e.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		// Private until its contents are in; leave gives it its mode.
		if err := eintr.Retry(func() error { return unix.Mkdirat(dir, name, 0o700) }); err != nil {
			return c.fail(p, rel, "mkdirat", err)
		}
		return nil
	case unix.S_IFLNK:
		return c.copySymlink(p, e, dir, name, rel)
	case unix.S_IFREG:
		return c.copyFile(p, e, dir, name, rel)
	}
	if !c.cfg.special {
		return c.fail(p, rel, "copy", errSpecial)
	}
	err = eintr.Retry(func() error { return mknodat(dir, name, uint32(e.st.Mode), uint64(e.st.Rdev)) })
	if err != nil {
		return c.fail(p, rel, "mknodat", err)
	}
	return c.finishByName(p, rel, dir, name, &e.st, true)
}

func (c *copier) copySymlink(p string, e *Entry, dir int, name, rel string) error {
	target, err := readlinkat(e.lv.fd(), e.at)
	if errors.Is(err, unix.EINVAL) {
		err = fmt.Errorf("%w: no longer a symlink when read", ErrChanged)
	}
	if err != nil {
		return c.fail(p, rel, "readlinkat", err)
	}
	if err := eintr.Retry(func() error { return unix.Symlinkat(target, dir, name) }); err != nil {
		return c.fail(p, rel, "symlinkat", err)
	}
	return c.finishByName(p, rel, dir, name, &e.st, false)
}

// finishByName gives an object that cannot be opened (symlink, device,
// FIFO) its owner, mode and times, by name in the destination directory
// (private to us below the top) and without following a symlink.
func (c *copier) finishByName(p, rel string, dir int, name string, st *unix.Stat_t, chmod bool) error {
	kept := true
	if c.root {
		err := eintr.Retry(func() error { return unix.Fchownat(dir, name, int(st.Uid), int(st.Gid), unix.AT_SYMLINK_NOFOLLOW) })
		if err != nil {
			return c.fail(p, rel, "fchownat", err)
		}
	} else {
		kept = st.Uid == uint32(os.Geteuid()) && st.Gid == uint32(os.Getegid())
	}
	if chmod {
		mode := setIDRule(uint32(st.Mode), kept)
		err := eintr.Retry(func() error { return object{dir: dir, name: name}.chmod(mode) })
		if err != nil {
			return c.fail(p, rel, "fchmodat", err)
		}
	}
	return c.setTimes(p, rel, dir, name, st)
}

func (c *copier) setTimes(p, rel string, dir int, name string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := eintr.Retry(func() error { return unix.UtimesNanoAt(dir, name, ts, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return c.fail(p, rel, "utimensat", err)
	}
	c.count(0)
	return nil
}

func (c *copier) count(n int64) {
	c.files++
	c.bytes += n
	if c.cfg.progress != nil {
		c.cfg.progress(c.files, c.bytes)
	}
}

// setIDRule is S7: the set-user-ID and set-group-ID bits stay only when
// the copy kept the original owner and group.
func setIDRule(mode uint32, keptOwner bool) uint32 {
	mode &= 0o7777
	if !keptOwner {
		mode &^= unix.S_ISUID | unix.S_ISGID
	}
	return mode
}

// copyFile copies a regular file through descriptors: the source is opened
// from the directory the walk holds, with O_NOFOLLOW and O_NONBLOCK (a
// FIFO swapped in must not block the open), and must still be a regular
// file once open; the copy is created with O_EXCL and given its owner,
// mode and times through its descriptor.
func (c *copier) copyFile(p string, e *Entry, dir int, name, rel string) error {
	in, err := openat(e.lv.fd(), e.at, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	if err != nil {
		return c.fail(p, rel, "openat", err)
	}
	defer closeFd(in)
	st := &e.st
	if err := eintr.Retry(func() error { return unix.Fstat(in, st) }); err != nil {
		return c.fail(p, rel, "fstat", err)
	}
	e.statted = true
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return c.fail(p, rel, "copy", fmt.Errorf("%w: no longer a regular file once opened", ErrChanged))
	}
	key := fileKey{uint64(st.Dev), uint64(st.Ino)}
	if st.Nlink > 1 {
		if first, ok := c.links[key]; ok {
			return c.linkFirst(p, rel, first, dir, name)
		}
	}
	if done, err := c.linkUnchanged(st, dir, name); err != nil {
		return c.fail(p, rel, "linkat", err)
	} else if done {
		c.count(0)
		return nil
	}
	out, err := openat(dir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return c.fail(p, rel, "openat", err)
	}
	n, err := c.copyData(out, in, st)
	if err == nil {
		err = c.setOwnerMode(out, st)
	}
	var copied unix.Stat_t
	if err == nil && st.Nlink > 1 {
		err = eintr.Retry(func() error { return unix.Fstat(out, &copied) })
	}
	if cerr := closeFd(out); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return c.fail(p, rel, "copy", err)
	}
	if st.Nlink > 1 {
		c.links[key] = firstCopy{rel: rel, id: fileKey{uint64(copied.Dev), uint64(copied.Ino)}}
	}
	c.bytes += n
	return c.setTimes(p, rel, dir, name, st)
}

// setOwnerMode gives a copy (a file or directory, open as fd) the source's
// owner (when root) and mode, the set-ID bits only where the owner and
// group were kept (S7). chown comes first: it clears set-ID bits.
func (c *copier) setOwnerMode(fd int, st *unix.Stat_t) error {
	kept := true
	if c.root {
		if err := eintr.Retry(func() error { return unix.Fchown(fd, int(st.Uid), int(st.Gid)) }); err != nil {
			return err
		}
	} else if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		var now unix.Stat_t
		if err := eintr.Retry(func() error { return unix.Fstat(fd, &now) }); err != nil {
			return err
		}
		kept = now.Uid == st.Uid && now.Gid == st.Gid
	}
	mode := setIDRule(uint32(st.Mode), kept)
	return eintr.Retry(func() error { return unix.Fchmod(fd, mode) })
}

// linkFirst links name to the copy already made of another name of the
// same source file: the object found at first's place is checked to be
// that copy, and linked by its descriptor where the system can, so the
// object checked is the object linked.
func (c *copier) linkFirst(p, rel string, first firstCopy, dir int, name string) error {
	ofd, flast, err := c.copiedDir(first.rel)
	if err != nil {
		return c.fail(p, rel, "openat", err)
	}
	defer closeFd(ofd)
	hfd, err := openat(ofd, flast, c.dst.openHandleFlags(), 0)
	if err != nil {
		return c.fail(p, rel, "openat", err)
	}
	defer closeFd(hfd)
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(hfd, &st) }); err != nil {
		return c.fail(p, rel, "fstat", err)
	}
	if (fileKey{uint64(st.Dev), uint64(st.Ino)}) != first.id {
		return c.fail(p, rel, "linkat", fmt.Errorf("%w: the copy of %s was replaced", ErrChanged, first.rel))
	}
	err = linkat.LinkFd(hfd, dir, name)
	if errors.Is(err, errors.ErrUnsupported) {
		// No way to name a descriptor here: by name, in a directory of
		// the copy, just checked.
		err = eintr.Retry(func() error { return unix.Linkat(ofd, flast, dir, name, 0) })
	}
	if err != nil {
		return c.fail(p, rel, "linkat", err)
	}
	c.count(0)
	return nil
}

// copiedDir opens the directory of the copy at rel (relative to the top)
// and returns it with rel's last component. It starts from the top the
// copy made, opened without following and checked by identity, and goes
// down one component at a time without following: the top is private to
// us until leave, so nothing below it can have moved, but its own name is
// in a directory others may write, and a symlink put there must not lead
// linkat to an object of someone else's (root is not held back by
// fs.protected_hardlinks).
func (c *copier) copiedDir(rel string) (fd int, last string, err error) {
	fd, err = openat(c.dparent, c.dtop, dirstack.DirFlags, 0)
	if err != nil {
		return -1, "", err
	}
	id, err := dirstack.Identify(fd)
	if err == nil && (id.Dev != c.topID.Dev || id.Ino != c.topID.Ino) {
		err = fmt.Errorf("%w: the copy's top directory was replaced", ErrChanged)
	}
	parts := strings.Split(rel, "/")
	for _, part := range parts[:len(parts)-1] {
		if err != nil {
			break
		}
		var next int
		next, err = openat(fd, part, dirstack.DirFlags, 0)
		closeFd(fd)
		fd = next
	}
	if err != nil {
		if fd >= 0 {
			closeFd(fd)
		}
		return -1, "", err
	}
	return fd, parts[len(parts)-1], nil
}

// linkUnchanged links name from prev (LinkUnchanged) when prev's file at
// the same place matches st; done reports that it did.
func (c *copier) linkUnchanged(st *unix.Stat_t, dir int, name string) (done bool, err error) {
	pfd := c.prevDir()
	if pfd < 0 {
		return false, nil
	}
	var pst unix.Stat_t
	if eintr.Retry(func() error { return unix.Fstatat(pfd, name, &pst, unix.AT_SYMLINK_NOFOLLOW) }) != nil {
		return false, nil
	}
	if pst.Mode != st.Mode || pst.Size != st.Size || pst.Uid != st.Uid || pst.Gid != st.Gid || pst.Mtim != st.Mtim {
		return false, nil
	}
	// linkat without AT_SYMLINK_FOLLOW never follows a symlink swapped in
	// at the name; whatever it links is an object of prev's tree.
	err = eintr.Retry(func() error { return unix.Linkat(pfd, name, dir, name, 0) })
	switch {
	case err == nil:
		return true, nil
	case err == unix.EEXIST:
		return false, err
	}
	return false, nil // another filesystem, a link limit, a race: copy it
}

// prevDir is prev's directory at the level being copied, opened on first
// need (one lookup per directory that has files), or -2 when prev has
// none there.
func (c *copier) prevDir() int {
	if c.cfg.prev == nil || c.prevFd != -1 {
		return c.prevFd
	}
	rel := "."
	if len(c.rels) > 0 && c.rels[len(c.rels)-1] != "" {
		rel = c.rels[len(c.rels)-1]
	}
	fd, err := c.cfg.prev.open(rel, c.cfg.prev.dirOpenFlags(), 0)
	if err != nil {
		c.prevFd = -2
		return -2
	}
	c.prevFd = fd
	return fd
}

func (c *copier) closePrev() {
	if c.prevFd >= 0 {
		closeFd(c.prevFd)
	}
	c.prevFd = -1
}

// enter opens the directory visit made for e and makes it the deepest
// level of the destination, beside the walk's.
func (c *copier) enter(p string, e *Entry) error {
	sid := c.w.stack.Level(c.w.stack.Len() - 1).ID
	if c.dstack.Len() > 0 && sid.Dev == c.topID.Dev && sid.Ino == c.topID.Ino {
		return errCopyIntoItself
	}
	dir, name, rel := c.target(e)
	fd, err := openat(dir, name, dirstack.DirFlags, 0)
	if err != nil {
		return err
	}
	id, err := dirstack.Identify(fd)
	if err != nil {
		closeFd(fd)
		return err
	}
	if c.dstack.Len() == 0 {
		if !c.cfg.into {
			// The top was made in a directory others may write: make sure
			// it is the one we made, not one swapped in between mkdirat
			// and openat.
			if err := ownedPrivate(fd); err != nil {
				closeFd(fd)
				return err
			}
		}
		c.topID = id
		if sid.Dev == id.Dev && sid.Ino == id.Ino {
			closeFd(fd)
			return errCopyIntoItself
		}
	}
	c.dstack.Push(name, fd, id)
	c.rels = append(c.rels, rel)
	c.closePrev()
	return nil
}

// ownedPrivate checks that a directory we have just made is ours and
// private.
func ownedPrivate(fd int) error {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return err
	}
	if int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("%w: the directory just made was replaced", ErrChanged)
	}
	return nil
}

// leave gives a copied directory its owner, mode and times, after its
// contents, and leaves it.
func (c *copier) leave(p string, e *Entry) error {
	fd := c.dstack.Fd()
	rel := c.rels[len(c.rels)-1]
	var err error
	if c.dstack.Len() == 1 && c.cfg.into {
		// The stage keeps its mode (Install's); owner and times are the
		// source's.
		if c.root {
			err = eintr.Retry(func() error { return unix.Fchown(fd, int(e.st.Uid), int(e.st.Gid)) })
		}
	} else {
		err = c.setOwnerMode(fd, &e.st)
	}
	if err == nil {
		ts := []unix.Timespec{e.st.Atim, e.st.Mtim}
		err = eintr.Retry(func() error { return unix.UtimesNanoAt(fd, ".", ts, unix.AT_SYMLINK_NOFOLLOW) })
	}
	if err != nil {
		return c.fail(p, rel, "copy", err)
	}
	c.closePrev()
	c.rels = c.rels[:len(c.rels)-1]
	if _, err := c.dstack.Pop(); err != nil {
		return c.fail(p, rel, "openat", err)
	}
	c.count(0)
	return nil
}
