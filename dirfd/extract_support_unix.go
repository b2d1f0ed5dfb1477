//go:build unix

package dirfd

// What archive extraction (package extract) needs beyond os.Root's methods:
// entries that replace whatever is at their name without ever following it
// (a file, a hard link by handle, a device node), and times set on a
// symlink itself.

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
	"github.com/racefree/racefree/linkat"
	"github.com/racefree/racefree/opath"
)

// ReplaceFile puts a new regular file under name, filled by fill, in one
// step: fill writes to a file nobody else can see or reach (an unnamed
// O_TMPFILE in name's directory on Linux, else a file in a private mode-0700
// staging directory there), and only the complete file is then given the
// name. Nothing half-written is ever visible under name, and an error from
// fill, or any other, leaves name as it was.
//
// The final component is never followed: a file, symlink, FIFO, socket or
// device already at name is replaced, atomically (readers see the old
// object or the new file, never a missing name: G2), and never written
// through or opened; a directory is not replaced (EISDIR). This is what an
// archive entry means, where CreateAtomic is what an editor saving a file
// means (it follows a final symlink and keeps the old file's mode).
//
// fill may set the file's mode, owner, times and extended attributes
// through f, and must not close it. perm (less the umask) is the mode the
// file is created with. The file is not flushed (no fsync): it is atomic,
// not durable, for the many files of a tree that is flushed once afterwards
// (Install does).
//
// Cost on Linux, for a name that does not exist yet: openat(O_TMPFILE),
// fill's calls, linkat(AT_EMPTY_PATH) and close; replacing an existing
// entry adds the rename from the Dir's stage in that directory. The first call on a filesystem
// probes it once (capability.ProbeDir), so that a filesystem that opens
// unnamed files but cannot link them is found before any content is
// written.
func (d *Dir) ReplaceFile(name string, perm fs.FileMode, fill func(f *os.File) error) error {
	err := d.do(name, func() error {
		return d.inParent(name, func(parent int, last string) error {
			if last == "." || strings.HasSuffix(last, "/") {
				return unix.EISDIR
			}
			if id, err := d.mountOf(parent); unnamedRoute(parent, id, err) {
				return replaceUnnamed(d.stages, parent, last, fileinfo.Perm(perm), d.join(name), fill)
			}
			return replaceStaged(d.stages, parent, last, fileinfo.Perm(perm), name, d.join(name), fill)
		})
	})
	return pathErr("replacefile", name, err)
}

// replaceStaged is ReplaceFile through an AtomicFile with nothing to
// inherit: CommitNoSync renames the staged file over last, which replaces a
// non-directory itself (rename(2) never follows) and fails on a directory.
func replaceStaged(stages *stageCache, parent int, last string, perm uint32, name, fileName string, fill func(*os.File) error) error {
	f, err := newAtomicFile(stages, parent, last, nil, perm, name, fileName)
	if err != nil {
		return err
	}
	if err := fill(f.File); err != nil {
		f.Close()
		return err
	}
	return f.CommitNoSync()
}

// ReplaceLinkHandle gives the object h refers to the name newname, as
// LinkHandle does, but atomically replaces a non-directory already at
// newname instead of failing with EEXIST (see linkat.ReplaceLinkFd): every
// reader sees the old object or h's, never a missing name. A directory at
// newname is not replaced (EISDIR). When newname is free it costs what
// LinkHandle costs. Errors are *os.LinkError.
func (d *Dir) ReplaceLinkHandle(h *opath.Handle, newname string) error {
	return d.linkHandle(h, newname, func(fd, parent int, last string) error { return publishFd(d.stages, fd, parent, last) })
}

// linkHandle resolves newname's directory and links h's object there with
// link (LinkHandle's plain link, ReplaceLinkHandle's replacing one).
func (d *Dir) linkHandle(h *opath.Handle, newname string, link func(fd, parent int, last string) error) error {
	err := d.do(newname, func() error {
		return d.inParent(newname, func(parent int, last string) error {
			return withHandleFd(h, func(fd int) error { return link(fd, parent, last) })
		})
	})
	if err != nil {
		old := ""
		if h != nil {
			old = h.Name()
		}
		return &os.LinkError{Op: "linkat", Old: old, New: newname, Err: err}
	}
	return nil
}

// publishFd links fd's object under last in parent, replacing a
// non-directory there atomically through the Dir's stage for parent. The
// plain link is tried first: it publishes in one call when last is free,
// which is the common case.
func publishFd(stages *stageCache, fd, parent int, last string) error {
	err := linkat.LinkFd(fd, parent, last)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	return linkat.ReplaceLinkFdIn(stages, fd, parent, last)
}

// Lchtimes changes the access and modification times of the object name
// refers to, as Chtimes does, except that a final symlink is changed itself
// and never followed (lutimes). A zero time leaves that time unchanged.
func (d *Dir) Lchtimes(name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	return pathErr("lchtimesat", name, d.do(name, func() error {
		return d.inParent(name, func(parent int, last string) error {
			return eintr.Retry(func() error { return unix.UtimesNanoAt(parent, last, ts, unix.AT_SYMLINK_NOFOLLOW) })
		})
	}))
}

// Mknod creates name as a FIFO (mode has fs.ModeNamedPipe), a character
// device (fs.ModeDevice|fs.ModeCharDevice), a block device (fs.ModeDevice)
// or a socket node (fs.ModeSocket), with mode's permission bits less the
// umask and, for a device, the device numbers major and minor.
// Like mknodat(2) it never replaces: an existing name fails with EEXIST,
// whatever it is, and a symlink there is not followed. Devices need
// privilege (CAP_MKNOD). Other types fail with EINVAL; macOS has no
// mknodat and fails with an error wrapping errors.ErrUnsupported.
func (d *Dir) Mknod(name string, mode fs.FileMode, major, minor uint32) error {
	var typ uint32
	switch mode.Type() {
	case fs.ModeNamedPipe:
		typ = unix.S_IFIFO
	case fs.ModeDevice | fs.ModeCharDevice:
		typ = unix.S_IFCHR
	case fs.ModeDevice:
		typ = unix.S_IFBLK
	case fs.ModeSocket:
		typ = unix.S_IFSOCK
	default:
		return &fs.PathError{Op: "mknodat", Path: name, Err: unix.EINVAL}
	}
	return pathErr("mknodat", name, d.do(name, func() error {
		return d.inParent(name, func(parent int, last string) error {
			return eintr.Retry(func() error { return mknodat(parent, last, typ|fileinfo.Perm(mode), unix.Mkdev(major, minor)) })
		})
	}))
}
