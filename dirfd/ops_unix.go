//go:build unix

package dirfd

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
	"github.com/racefree/racefree/opath"
	"github.com/racefree/racefree/unlinkat"
)

// object is the final object of a name, pinned for one operation: either a
// descriptor of the object itself (name == "", O_PATH on Linux) or the
// directory holding it and its name, always used with AT_SYMLINK_NOFOLLOW.
type object struct {
	dir  int
	name string
}

// objectByName pins an object by its parent directory and name, through
// the component walk, which follows a final symlink itself (see walkObject).
func (d *Dir) objectByName(name string, follow bool, f func(o object) error) error {
	return d.walkObject(name, nofollowIf(!follow), func(dirfd int, last string) error {
		return f(object{dir: dirfd, name: last})
	})
}

// nofollowIf is O_NOFOLLOW when set, for the walk's flags.
func nofollowIf(set bool) int {
	if set {
		return unix.O_NOFOLLOW
	}
	return 0
}

// inParent resolves the directory holding name's last component and calls f
// with it and that component (see splitLast).
//
// A name ending in "/" whose last component is a symlink is where Linux
// and os.Root part: the entry calls (unlinkat, renameat, linkat, mkdirat,
// symlinkat) refuse it (ENOTDIR, EEXIST) without following it, while
// os.Root follows it and reports an escape before anything else. Dir keeps
// the kernel's answer, except that an escape still wins: when f fails for
// such a name and following it would leave the tree, the error is
// ErrEscape, so the outcome never depends on how the name was spelt.
func (d *Dir) inParent(name string, f func(parent int, last string) error) error {
	dir, last := splitLast(name)
	var err error
	if dir == "" {
		err = f(d.ref.fd, last)
	} else {
		var fd int
		if fd, err = d.open(dir, d.dirOpenFlags(), 0); err != nil {
			return err
		}
		err = f(fd, last)
		closeFd(fd)
	}
	if err != nil && strings.HasSuffix(last, "/") && d.escapes(name) {
		return ErrEscape
	}
	return err
}

// escapes reports whether resolving name, following a final symlink, leaves
// the tree. It only chooses which error a call that has already failed
// reports (see inParent and open), so it acts on nothing.
func (d *Dir) escapes(name string) bool {
	var st unix.Stat_t
	return errors.Is(d.statObject(name, true, &st), ErrEscape)
}

// Stat describes the object name refers to, following a final symlink.
func (d *Dir) Stat(name string) (fs.FileInfo, error) { return d.stat("statat", name, true) }

// Lstat describes the object name refers to; a final symlink is described
// itself.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) { return d.stat("lstatat", name, false) }

func (d *Dir) stat(op, name string, follow bool) (fs.FileInfo, error) {
	var st unix.Stat_t
	err := d.do(name, func() error { return d.statObject(name, follow, &st) })
	if err != nil {
		return nil, pathErr(op, name, err)
	}
	base := name
	if i := strings.LastIndexByte(strings.TrimRight(name, "/"), '/'); i >= 0 {
		base = name[i+1:]
	}
	return fileinfo.New(strings.TrimRight(base, "/"), &st), nil
}

// Chmod changes the mode of the object name refers to, following a final
// symlink inside the tree.
func (d *Dir) Chmod(name string, mode fs.FileMode) error {
	return pathErr("chmodat", name, d.do(name, func() error {
		return d.withObject(name, true, func(o object) error {
			return eintr.Retry(func() error { return o.chmod(fileinfo.Perm(mode)) })
		})
	}))
}

// Chown changes the owner of the object name refers to, following a final
// symlink inside the tree.
//
// Containment (G1) is about lookups, and a hard link is not one: a file
// with a name inside the tree may have another outside it (a user can link
// a file she can read and write, or any file where fs.protected_hardlinks
// is 0), and changing it through the inside name changes it everywhere.
// Before handing out ownership or modes, pin the object with OpenHandle
// and check that its link count (st_nlink) is 1.
func (d *Dir) Chown(name string, uid, gid int) error {
	return pathErr("chownat", name, d.chown(name, true, uid, gid))
}

// Lchown changes the owner of the object name refers to; a final symlink is
// changed itself.
func (d *Dir) Lchown(name string, uid, gid int) error {
	return pathErr("lchownat", name, d.chown(name, false, uid, gid))
}

func (d *Dir) chown(name string, follow bool, uid, gid int) error {
	return d.do(name, func() error {
		return d.withObject(name, follow, func(o object) error {
			dir, n, flags := o.at()
			return eintr.Retry(func() error { return unix.Fchownat(dir, n, uid, gid, flags) })
		})
	})
}

// Chtimes changes the access and modification times of the object name
// refers to, following a final symlink inside the tree. A zero time leaves
// that time unchanged, as os.Chtimes.
func (d *Dir) Chtimes(name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	return pathErr("chtimesat", name, d.do(name, func() error {
		return d.withObject(name, true, func(o object) error {
			dir, n, flags := o.at()
			return eintr.Retry(func() error { return unix.UtimesNanoAt(dir, n, ts, flags) })
		})
	}))
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Nsec: utimeOmit}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

// Readlink returns the target of the symlink name.
func (d *Dir) Readlink(name string) (string, error) {
	var target string
	err := d.do(name, func() error {
		return d.withObject(name, false, func(o object) error {
			dir, n, _ := o.at()
			var err error
			target, err = readlinkat(dir, n)
			if err == unix.ENOENT && n == "" {
				err = unix.EINVAL // readlinkat(fd, "") of a non-symlink
			}
			return err
		})
	})
	return target, pathErr("readlinkat", name, err)
}

// OpenHandle returns a handle pinning the object name refers to, without
// following a final symlink (a symlink's handle refers to the link).
func (d *Dir) OpenHandle(name string) (*opath.Handle, error) {
	var fd int
	err := d.do(name, func() (err error) {
		fd, err = d.open(name, d.openHandleFlags(), 0)
		return err
	})
	if err != nil {
		return nil, pathErr("openat", name, err)
	}
	return opath.New(os.NewFile(uintptr(fd), d.join(name))), nil
}

// Mkdir creates the directory name with perm (less the umask), which
// must hold nothing but the nine permission bits, as os.Root.Mkdir.
func (d *Dir) Mkdir(name string, perm fs.FileMode) error {
	mode, err := createPerm(perm)
	if err != nil {
		return &fs.PathError{Op: "mkdirat", Path: name, Err: err}
	}
	return pathErr("mkdirat", name, d.do(name, func() error {
		return d.inParent(name, func(parent int, last string) error {
			return eintr.Retry(func() error { return unix.Mkdirat(parent, last, mode) })
		})
	}))
}

// MkdirAll creates name and any missing parents with perm (less the
// umask), which must hold nothing but the nine permission bits, as
// os.Root.MkdirAll. An existing directory is not an error; a component
// that exists and is not a directory is (ENOTDIR), a symlink that leads
// nowhere included: nothing is ever created through a symlink.
func (d *Dir) MkdirAll(name string, perm fs.FileMode) error {
	_, err := d.mkdirAllDir(name, perm, false)
	return err
}

// MkdirAllDir is MkdirAll that also returns the directory name as a new
// Dir with d's options. The Dir is made from the descriptor MkdirAll held
// on the last level, not by a second lookup of name, which a rename in
// between could redirect: what a container runtime needs of a mount target
// it has just made (filepath-securejoin's MkdirAllHandle). Closing either
// Dir leaves the other open.
func (d *Dir) MkdirAllDir(name string, perm fs.FileMode) (*Dir, error) {
	return d.mkdirAllDir(name, perm, true)
}

func (d *Dir) mkdirAllDir(name string, perm fs.FileMode, keep bool) (*Dir, error) {
	mode, err := createPerm(perm)
	if err != nil {
		return nil, &fs.PathError{Op: "mkdirat", Path: name, Err: err}
	}
	fd := -1
	err = d.do(name, func() (err error) {
		fd, err = d.open(name, d.dirOpenFlags(), 0)
		if errors.Is(err, unix.ENOENT) {
			fd, err = d.mkdirAll(name, mode)
		}
		return err
	})
	if err != nil {
		return nil, pathErr("mkdirat", name, err)
	}
	if !keep {
		closeFd(fd)
		return nil, nil
	}
	return finishOpen(d.join(name), fd, d.cfg)
}

// mkdirAll makes every missing directory of name and returns a descriptor
// of the last one, which the caller closes. It holds the descriptor of the
// directory made or found last: each component is made and opened
// relative to it, with O_NOFOLLOW, so one plain name cannot lead anywhere
// else and the walk costs two syscalls a level instead of a lookup of the
// whole prefix. What the held descriptor cannot settle is resolved afresh
// by d.open as a prefix, with the same containment as in any other call:
// "..", a symlink (made before or swapped in after our mkdirat), every
// component under NoXDev (whose mount check is the resolver's), and a
// directory we may not open for reading where O_PATH is missing.
func (d *Dir) mkdirAll(name string, perm uint32) (int, error) {
	parts, _, _ := components(name)
	held := d.ref.fd
	hold := func(fd int) {
		if held != d.ref.fd {
			closeFd(held)
		}
		held = fd
	}
	for i, part := range parts {
		existed := false
		if part != ".." {
			err := eintr.Retry(func() error { return unix.Mkdirat(held, part, perm) })
			if err != nil && err != unix.EEXIST {
				hold(d.ref.fd)
				return -1, err
			}
			existed = err == unix.EEXIST
			if !d.cfg.noXDev {
				fd, err := openat(held, part, d.sys.dirFlags, 0)
				if err == nil {
					hold(fd)
					continue
				}
				if !isNofollowErr(err) && err != unix.EACCES {
					hold(d.ref.fd)
					return -1, err
				}
			}
		}
		fd, err := d.open(strings.Join(parts[:i+1], "/"), d.dirOpenFlags(), 0)
		if err != nil {
			hold(d.ref.fd)
			if existed && err == unix.ENOENT {
				// Something is there (mkdirat said so) and leads nowhere:
				// a dangling symlink, which is not a directory.
				return -1, unix.ENOTDIR
			}
			return -1, err
		}
		hold(fd)
	}
	if held == d.ref.fd { // nothing to make: name is the top itself
		return d.open(".", d.dirOpenFlags(), 0)
	}
	return held, nil
}

// Remove removes the file or empty directory name, as os.Remove. A final
// symlink is removed itself.
func (d *Dir) Remove(name string) error {
	return pathErr("removeat", name, d.do(name, func() error {
		return d.inParent(name, func(parent int, last string) error {
			if last == "." {
				// splitLast folds a final "..", and "/" itself, into
				// ".", for which rmdir says EINVAL. The kernel answers
				// rmdir("x/..") with ENOTEMPTY and rmdir("/") with EBUSY
				// (and os.Remove passes that on): say the same, so that
				// the outcome does not depend on how the name was spelt.
				switch trimmed := strings.TrimRight(name, "/"); {
				case trimmed == "":
					return unix.EBUSY
				case trimmed == ".." || strings.HasSuffix(trimmed, "/.."):
					return unix.ENOTEMPTY
				}
			}
			return unlinkat.Remove(parent, last)
		})
	}))
}

// RemoveAll removes name and everything below it, as os.RemoveAll: a
// missing name is not an error, and removing "." is refused (EINVAL). It
// never follows a symlink and never leaves the tree. Mount points below
// name (on Linux bind mounts of the same filesystem too, told apart by
// mount ID) are left alone, with their contents, and reported with EXDEV
// once everything else is removed. It holds at most 17 descriptors however
// deep the tree, and a directory moved out from under it stops it with an
// error matching ErrChanged (see unlinkat.RemoveAll).
func (d *Dir) RemoveAll(name string) error {
	trimmed := strings.TrimRight(name, "/")
	if trimmed == "" && name != "" {
		trimmed = "/"
	}
	if trimmed == "." || strings.HasSuffix(trimmed, "/.") || trimmed == ".." || strings.HasSuffix(trimmed, "/..") {
		return &fs.PathError{Op: "RemoveAll", Path: name, Err: unix.EINVAL}
	}
	err := d.do(trimmed, func() error {
		return d.inParent(trimmed, unlinkat.RemoveAll)
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return pathErr("RemoveAll", name, err)
}

// Symlink creates newname as a symlink to target. The target is stored as
// given; whether following it stays inside the tree is decided when it is
// followed.
func (d *Dir) Symlink(target, newname string) error {
	err := d.do(newname, func() error {
		if strings.IndexByte(target, 0) >= 0 {
			return errNulByte
		}
		return d.inParent(newname, func(parent int, last string) error {
			return eintr.Retry(func() error { return unix.Symlinkat(target, parent, last) })
		})
	})
	if err != nil {
		return &os.LinkError{Op: "symlinkat", Old: target, New: newname, Err: err}
	}
	return nil
}

// Link creates newname as a hard link to oldname. A final symlink in
// oldname is linked itself, not followed.
func (d *Dir) Link(oldname, newname string) error {
	if strings.HasSuffix(oldname, "/") {
		// linkat would follow a final symlink in "old/" by itself, outside
		// our containment. Resolve it ourselves and answer as linkat would:
		// a directory cannot be hard-linked (EPERM), and a non-directory
		// fails the lookup (ENOTDIR).
		err := d.do(oldname, func() error {
			return d.withObject(oldname, true, func(object) error { return unix.EPERM })
		})
		return &os.LinkError{Op: "linkat", Old: oldname, New: newname, Err: err}
	}
	err := d.twoNames(oldname, newname, func(op int, olast string, np int, nlast string) error {
		return eintr.Retry(func() error { return unix.Linkat(op, olast, np, nlast, 0) })
	})
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// Rename renames oldname to newname, as os.Rename: an existing newname is
// replaced unless it is a directory (EEXIST).
func (d *Dir) Rename(oldname, newname string) error {
	err := d.twoNames(oldname, newname, func(op int, olast string, np int, nlast string) error {
		var nst, ost unix.Stat_t
		if d.lstatEntry(np, nlast, newname, &nst) == nil && nst.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := d.lstatEntry(op, olast, oldname, &ost); err != nil {
				return err
			}
			if ost.Dev != nst.Dev || ost.Ino != nst.Ino {
				return unix.EEXIST
			}
		}
		return eintr.Retry(func() error { return unix.Renameat(op, olast, np, nlast) })
	})
	if err != nil {
		return &os.LinkError{Op: "renameat", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// lstatEntry is os.Lstat of the entry last in parent, which inParent found
// for name: a trailing slash follows a final symlink, as it does for
// lstat(2), but through the Dir's resolver, never by handing the kernel
// the slash (fstatat would follow the symlink wherever it leads).
func (d *Dir) lstatEntry(parent int, last, name string, st *unix.Stat_t) error {
	if strings.HasSuffix(last, "/") {
		return d.statObject(name, true, st)
	}
	return eintr.Retry(func() error { return unix.Fstatat(parent, last, st, unix.AT_SYMLINK_NOFOLLOW) })
}

// twoNames resolves the parents of two names and calls f with both.
func (d *Dir) twoNames(oldname, newname string, f func(op int, olast string, np int, nlast string) error) error {
	if err := checkName(newname); err != nil {
		return err
	}
	return d.do(oldname, func() error {
		return d.inParent(oldname, func(op int, olast string) error {
			return d.inParent(newname, func(np int, nlast string) error {
				return f(op, olast, np, nlast)
			})
		})
	})
}

// Capabilities reports what the kernel offers and what has been learned
// about the filesystem this directory is on.
func (d *Dir) Capabilities() capability.Report {
	if d.ref.incref() != nil {
		return capability.Probe() // closed: what the kernel has
	}
	defer d.ref.decref()
	return capability.ForDir(d.ref.fd)
}
