//go:build unix && !linux

package opath

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
)

// Reopen opens the object for I/O with flag (O_CLOEXEC is always added).
// Without O_PATH a Handle of a non-directory is already open read-only, so
// only a read-only reopen (a fresh descriptor of the same open file) is
// possible; anything else fails with errors.ErrUnsupported.
func (h *Handle) Reopen(flag int) (*os.File, error) {
	var st unix.Stat_t
	if err := h.control("fstat", func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, err
	}
	var nfd int
	var err error
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		err = h.control("openat", func(fd int) (err error) {
			nfd, err = eintr.Retry1(func() (int, error) { return unix.Openat(fd, ".", flag|unix.O_CLOEXEC, 0) })
			return err
		})
	case flag&^unix.O_CLOEXEC == unix.O_RDONLY:
		err = h.control("fcntl", func(fd int) (err error) {
			nfd, err = unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
			return err
		})
	default:
		return nil, &fs.PathError{Op: "reopen", Path: h.Name(), Err: errors.ErrUnsupported}
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), h.Name()), nil
}

// Readlink is not available without O_PATH: a portable Handle cannot refer
// to a symlink.
func (h *Handle) Readlink() (string, error) {
	return "", &fs.PathError{Op: "readlink", Path: h.Name(), Err: errors.ErrUnsupported}
}

// Chmod changes the mode of the object itself.
func (h *Handle) Chmod(mode fs.FileMode) error {
	return h.control("fchmod", func(fd int) error {
		return eintr.Retry(func() error { return unix.Fchmod(fd, fileinfo.Perm(mode)) })
	})
}

// Access is not available without a descriptor-relative access call.
func (h *Handle) Access(mode uint32) error {
	return &fs.PathError{Op: "access", Path: h.Name(), Err: errors.ErrUnsupported}
}

// Path returns where the object is now, as the kernel names it.
func (h *Handle) Path() (string, error) {
	var p string
	err := h.control("fcntl", func(fd int) (err error) {
		p, err = fdPath(fd)
		return err
	})
	return p, err
}

func chownFd(fd, uid, gid int) error { return unix.Fchown(fd, uid, gid) }
