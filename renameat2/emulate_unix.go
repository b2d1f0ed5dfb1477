//go:build unix && !darwin

package renameat2

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// emulate stands in for a flag the platform lacks.
func emulate(olddirfd int, oldname string, newdirfd int, newname string, flags Flags) error {
	switch {
	case flags&Exchange != 0:
		return unsupported("atomic exchange is not available on this filesystem")
	case flags&Whiteout != 0:
		return unsupported("whiteouts are not available on this filesystem")
	case flags&Strict != 0:
		return unsupported("no-replace rename is not available on this filesystem and Strict forbids link+unlink")
	}
	return linkUnlink(olddirfd, oldname, newdirfd, newname)
}

// linkUnlink is a no-replace rename for non-directories: linkat fails with
// EEXIST if newname exists, atomically, and the old name is removed only if
// it still refers to the object that was linked.
func linkUnlink(olddirfd int, oldname string, newdirfd int, newname string) error {
	err := eintr.Retry(func() error { return unix.Linkat(olddirfd, oldname, newdirfd, newname, 0) })
	if err == unix.EPERM || err == unix.EISDIR {
		var st unix.Stat_t
		if unix.Fstatat(olddirfd, oldname, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return unsupported("no-replace rename of a directory needs RENAME_NOREPLACE")
		}
	}
	if err != nil {
		return err
	}
	var ost, nst unix.Stat_t
	if err := unix.Fstatat(newdirfd, newname, &nst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if err := unix.Fstatat(olddirfd, oldname, &ost, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if ost.Dev != nst.Dev || ost.Ino != nst.Ino {
		// Someone replaced oldname between the link and now: the object
		// is safe under newname, and the stranger's object stays.
		return nil
	}
	return eintr.Retry(func() error { return unix.Unlinkat(olddirfd, oldname, 0) })
}
