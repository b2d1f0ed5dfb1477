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
// the old name is then removed only if it still refers to the object it
// referred to just before the link (IfSame, with its window).
//
// Why the old name and not the new one is what is compared: newname is
// often in a directory others can write, and the moment after the link
// they can have swapped it for an object of theirs; oldname is often in a
// private directory (an Aside's place), where it cannot change. Judged by
// the new name, a swap there would leave our object under both names, one
// of them in the private directory.
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
	var ours unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstatat(olddirfd, oldname, &ours, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	if ours.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("no-replace rename of a directory needs RENAME_NOREPLACE: %w", errors.ErrUnsupported)
	}
	if err := eintr.Retry(func() error { return unix.Linkat(olddirfd, oldname, newdirfd, newname, 0) }); err != nil {
		return err
	}
	err := IfSame(olddirfd, oldname, &ours, func() error {
		return eintr.Retry(func() error { return unix.Unlinkat(olddirfd, oldname, 0) })
	})
	if err == ErrChanged {
		// Someone replaced oldname between the look and the link (a
		// shared directory): what was linked is theirs, and ours stays
		// wherever they moved it; nothing is removed.
		return nil
	}
	return err
}
