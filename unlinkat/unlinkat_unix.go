//go:build unix

package unlinkat

import (
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
