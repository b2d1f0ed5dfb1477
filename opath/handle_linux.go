package opath

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
)

// Reopen opens the object for I/O with flag (O_CLOEXEC is always added).
// Directories are reopened with openat(fd, "."), which needs no /proc;
// other objects through /proc/thread-self/fd, reached with
// filepath-securejoin's hardened procfs so an overmounted /proc cannot
// redirect the open. The new descriptor's permissions are checked against
// the object as it is now, as open(2) would.
func (h *Handle) Reopen(flag int) (*os.File, error) {
	var st unix.Stat_t
	if err := h.control("fstat", func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		var nfd int
		err := h.control("openat", func(fd int) (err error) {
			nfd, err = eintr.Retry1(func() (int, error) {
				return unix.Openat(fd, ".", flag|unix.O_CLOEXEC, 0)
			})
			return err
		})
		if err != nil {
			return nil, err
		}
		return os.NewFile(uintptr(nfd), h.Name()), nil
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return nil, &fs.PathError{Op: "reopen", Path: h.Name(), Err: unix.ELOOP}
	}
	f, err := pathrs.Reopen(h.f, flag|unix.O_CLOEXEC)
	if err != nil {
		return nil, &fs.PathError{Op: "reopen", Path: h.Name(), Err: err}
	}
	return f, nil
}

// Readlink returns the target of the symlink the Handle refers to.
func (h *Handle) Readlink() (string, error) {
	var target string
	err := h.control("readlinkat", func(fd int) (err error) {
		target, err = readlinkFd(fd)
		return err
	})
	return target, err
}

// readlinkFd reads the link an O_PATH descriptor refers to, growing the
// buffer until the whole target fits.
func readlinkFd(fd int) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := eintr.Retry1(func() (int, error) { return unix.Readlinkat(fd, "", buf) })
		if err != nil {
			if err == unix.ENOENT {
				// readlinkat(fd, "") on something that is not a symlink.
				err = unix.EINVAL
			}
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// Chmod changes the mode of the object itself. It uses fchmodat2 with
// AT_EMPTY_PATH (Linux 6.6) when the capability report has it, and
// otherwise chmods through the hardened /proc/thread-self/fd.
func (h *Handle) Chmod(mode fs.FileMode) error {
	return h.control("fchmodat", func(fd int) error { return Fchmod(fd, fileinfo.Perm(mode)) })
}

// Fchmod is chmod for any descriptor, O_PATH ones included, which fchmod(2)
// refuses: fchmodat2(fd, "", AT_EMPTY_PATH) where the capability report has
// it, else the hardened /proc/thread-self/fd/N.
func Fchmod(fd int, mode uint32) error {
	if capability.Has(capability.Fchmodat2) {
		return eintr.Retry(func() error { return unix.Fchmodat(fd, "", mode, unix.AT_EMPTY_PATH) })
	}
	return viaProcFd(fd, func(dir int, name string) error {
		return unix.Fchmodat(dir, name, mode, 0)
	})
}

// Access checks the object against mode (unix.R_OK, W_OK, X_OK, F_OK) with
// the real user and group IDs, as access(2) does. It asks faccessat2 of
// the descriptor itself (Linux 5.8). Where that is refused, with ENOSYS
// (an older kernel) or EPERM (a seccomp filter; an immutable file's W_OK
// says EPERM too, and gets the same answer again), it asks faccessat of
// the descriptor's /proc entry, which needs no flags. x/sys's Faccessat is
// not used: when faccessat2 is refused it emulates it and rejects
// AT_EMPTY_PATH with EINVAL, so the procfs route was never reached.
func (h *Handle) Access(mode uint32) error {
	return h.control("faccessat2", func(fd int) error {
		err := eintr.Retry(func() error { return unix.Faccessat2(fd, "", mode, unix.AT_EMPTY_PATH) })
		if err != unix.ENOSYS && err != unix.EPERM {
			return err
		}
		return viaProcFd(fd, func(dir int, name string) error {
			return unix.Faccessat(dir, name, mode, 0)
		})
	})
}

// Path returns where the object is now, as the kernel names it. It is
// computed on every call, never cached: it is a report, and using it as a
// path reintroduces every race this package exists to remove.
//
// An object without a name is an error. The kernel marks one by appending
// " (deleted)" to the last name it had, a string anyone can give a file,
// so the mark is not trusted: an object whose link count is 0 has no name;
// one that still has links but whose name ends so is either a file really
// named that or one whose name we opened it by was removed while others
// remain, and the name is returned only if it still names this object.
func (h *Handle) Path() (string, error) {
	p, err := procfs.ProcSelfFdReadlink(h.f)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: h.Name(), Err: err}
	}
	if !strings.HasPrefix(p, "/") {
		return "", &fs.PathError{Op: "readlink", Path: h.Name(), Err: errors.New("object is not reachable from this process's root: " + p)}
	}
	var st unix.Stat_t
	if err := h.control("fstat", func(fd int) error { return eintr.Retry(func() error { return unix.Fstat(fd, &st) }) }); err != nil {
		return "", err
	}
	if st.Nlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: h.Name(), Err: errDeleted}
	}
	if strings.HasSuffix(p, " (deleted)") {
		var named unix.Stat_t
		if unix.Lstat(p, &named) != nil || named.Dev != st.Dev || named.Ino != st.Ino {
			return "", &fs.PathError{Op: "readlink", Path: h.Name(), Err: errDeleted}
		}
	}
	return p, nil
}

// errDeleted is Path of an object that has no name any more.
var errDeleted = errors.New("object has no name any more (deleted)")

// viaProcFd calls op on the magic link /proc/thread-self/fd/N of fd, given
// as a verified descriptor of the fd directory and the entry name.
// filepath-securejoin refuses a /proc that is overmounted or not procfs,
// and opening the entry itself checks that nothing is mounted over it.
func viaProcFd(fd int, op func(dir int, name string) error) error {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return err
	}
	defer proc.Close()
	name := strconv.Itoa(fd)
	link, closer, err := proc.OpenThreadSelf("fd/" + name)
	if err != nil {
		return err
	}
	link.Close()
	closer()
	dir, closer, err := proc.OpenThreadSelf("fd/")
	if err != nil {
		return err
	}
	defer closer()
	defer dir.Close()
	return eintr.Retry(func() error { return op(int(dir.Fd()), name) })
}

func chownFd(fd, uid, gid int) error {
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}
