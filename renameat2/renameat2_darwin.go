package renameat2

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
)

// Rename renames oldname in olddirfd to newname in newdirfd according to
// flags, with renameatx_np(2): RENAME_EXCL for NoReplace and RENAME_SWAP for
// Exchange. Whiteout does not exist on macOS.
func Rename(olddirfd int, oldname string, newdirfd int, newname string, flags Flags) error {
	if err := flags.check(); err != nil {
		return err
	}
	var k uint32
	switch {
	case flags&Whiteout != 0:
		return unsupported("whiteouts do not exist on macOS")
	case flags&Exchange != 0:
		k = unix.RENAME_SWAP
	case flags&NoReplace != 0:
		k = unix.RENAME_EXCL
		// macOS 11.2 lets RENAME_EXCL succeed when both names are the
		// same object; a no-replace rename onto an existing name must
		// fail, so answer for it.
		var ost, nst unix.Stat_t
		if unix.Fstatat(olddirfd, oldname, &ost, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			unix.Fstatat(newdirfd, newname, &nst, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			ost.Dev == nst.Dev && ost.Ino == nst.Ino {
			return unix.EEXIST
		}
	default:
		return eintr.Retry(func() error { return unix.Renameat(olddirfd, oldname, newdirfd, newname) })
	}
	if !capability.Has(capability.RenameatxNp) {
		return unsupported("renameatx_np is not available")
	}
	return eintr.Retry(func() error { return unix.RenameatxNp(olddirfd, oldname, newdirfd, newname, k) })
}
