//go:build unix

package fallback

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// LinkUnlink is a no-replace rename for non-directories where the kernel
// has none: linkat(2) fails with EEXIST if newname exists, atomically, and
// the old name is then removed only if it still refers to the object that
// was linked (IfSame, with its window).
//
// What is weaker than RENAME_NOREPLACE: for a moment the object has both
// names, and a reader can see it under either; the link count moves; and a
// file that cannot be hard-linked (another user's file under
// fs.protected_hardlinks, EMLINK, a filesystem without hard links) cannot
// be moved this way. From a private stage (see Aside) the old name is seen
// by no one, so none of the visibility concerns apply there. A directory
// cannot be linked: that fails with an error wrapping
// errors.ErrUnsupported.
func LinkUnlink(olddirfd int, oldname string, newdirfd int, newname string) error {
	err := eintr.Retry(func() error { return unix.Linkat(olddirfd, oldname, newdirfd, newname, 0) })
	if err == unix.EPERM || err == unix.EISDIR {
		var st unix.Stat_t
		if eintr.Retry(func() error { return unix.Fstatat(olddirfd, oldname, &st, unix.AT_SYMLINK_NOFOLLOW) }) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return fmt.Errorf("no-replace rename of a directory needs RENAME_NOREPLACE: %w", errors.ErrUnsupported)
		}
	}
	if err != nil {
		return err
	}
	var linked unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstatat(newdirfd, newname, &linked, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	err = IfSame(olddirfd, oldname, &linked, func() error {
		return eintr.Retry(func() error { return unix.Unlinkat(olddirfd, oldname, 0) })
	})
	if err == ErrChanged {
		// Someone replaced oldname (or newname) after the link: the object
		// is safe under newname, and the stranger's object stays.
		return nil
	}
	return err
}
