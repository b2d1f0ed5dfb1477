//go:build unix

package unlinkat

import (
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Unlink removes the non-directory entry name in dirfd.
func Unlink(dirfd int, name string) error {
	return eintr.Retry(func() error { return unix.Unlinkat(dirfd, name, 0) })
}

// Rmdir removes the empty directory name in dirfd.
func Rmdir(dirfd int, name string) error {
	return eintr.Retry(func() error { return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR) })
}

// Remove removes name in dirfd whatever its type, as os.Remove does: it
// tries unlink first, then rmdir, and reports the error that describes the
// entry (the rmdir error unless the entry is not a directory).
func Remove(dirfd int, name string) error {
	err := Unlink(dirfd, name)
	if err == nil {
		return nil
	}
	err1 := Rmdir(dirfd, name)
	if err1 == nil {
		return nil
	}
	if err1 != unix.ENOTDIR {
		return err1
	}
	return err
}

// RemoveAll removes name in dirfd and, if it is a directory, everything
// below it. Every directory is entered through a descriptor opened with
// O_NOFOLLOW|O_DIRECTORY from its parent's descriptor, so a directory an
// attacker swaps for a symlink mid-removal is unlinked as a symlink, never
// followed; and a directory on another filesystem (a mount point) is left
// alone with EXDEV rather than emptied. A missing name is not an error.
func RemoveAll(dirfd int, name string) error {
	var parent unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(dirfd, &parent) }); err != nil {
		return err
	}
	err := removeAll(dirfd, name, uint64(parent.Dev), 0)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// maxRounds bounds how often a directory that keeps being refilled while we
// empty it is tried again before RemoveAll gives up with ENOTEMPTY.
const maxRounds = 8

func removeAll(dirfd int, name string, dev uint64, round int) error {
	err := Unlink(dirfd, name)
	if err == nil || err == unix.ENOENT {
		return err
	}
	// EISDIR on Linux, EPERM on the BSDs and macOS: a directory.
	fd, oerr := eintr.Retry1(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if oerr != nil {
		if oerr == unix.ENOTDIR || oerr == unix.ELOOP {
			return err // not a directory after all: report the unlink error
		}
		return oerr
	}
	dir := os.NewFile(uintptr(fd), name)
	defer dir.Close()
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return err
	}
	if uint64(st.Dev) != dev {
		return unix.EXDEV
	}
	for {
		names, rerr := dir.Readdirnames(1024)
		for _, n := range names {
			if err := removeAll(fd, n, dev, 0); err != nil && err != unix.ENOENT {
				return err
			}
		}
		if rerr == io.EOF || len(names) == 0 {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	err = Rmdir(dirfd, name)
	if err == unix.ENOTEMPTY && round < maxRounds {
		// Something was created while we emptied it: go round again.
		return removeAll(dirfd, name, dev, round+1)
	}
	return err
}
