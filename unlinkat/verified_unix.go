//go:build unix

package unlinkat

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/renameat2"
)

// RemoveIfSame removes name in dirfd (a file, a symlink or an empty
// directory, as os.Remove) only if it still refers to the object fd refers
// to: the same device and inode as fstat(fd) (G3 in DESIGN.md). An object
// someone else has put under the name is never removed, and never lost: on
// a mismatch nothing is removed and the error wraps fallback.ErrChanged.
// name must be a single entry (fallback.CheckName). The Method says which
// sequence ran, strongest first:
//
//   - fallback.Funlinkat where the kernel has funlinkat(2) (FreeBSD 13): the
//     kernel compares and unlinks atomically.
//   - fallback.MoveAside whenever fallback.CanMoveAside allows it: the name is
//     renamed into a private stage in dirfd, compared there, and unlinked
//     there if it is fd's object. A stranger's object is put back without
//     replacing anything; if the name has been taken again meanwhile, it is
//     kept under a fallback.ConflictPrefix name in dirfd and the
//     *fallback.ConflictError (which wraps ErrChanged) says where. Our own
//     directory that turns out not to be empty goes back the same way, with
//     ENOTEMPTY. While it runs, the name is absent for a moment.
//   - fallback.CompareUnlink (fstatat, compare, unlinkat) for a directory
//     that cannot be moved aside (no no-replace rename for directories on
//     this filesystem, as on the BSDs, or a directory we cannot write).
//     Another user can swap the name between the compare and the unlink,
//     and their object, if it is a file or an empty directory, is removed.
//     With strict this sequence is refused, with an error wrapping
//     errors.ErrUnsupported, before anything is done.
//
// The choice depends only on the platform, the filesystem and our own
// object, never on what the name refers to now, so another user cannot
// push us down to the weaker sequence. An error creating the stage
// (ENOSPC, EMLINK, ...), which such a user may be able to cause, is
// returned as it is (a *fallback.StageError), not answered with a weaker
// sequence, with one exception that is not weaker (DESIGN.md S8): when
// the filesystem is full (ENOSPC, EDQUOT) and dirfd is a directory no
// other user can write (fallback.PrivateDir), fallback.CompareUnlink has
// no window against them and runs instead, so that removing still frees
// space where nothing else can.
//
// RemoveIfSame makes a private stage for the call and removes it again
// (a mkdirat, an openat, an fstat, a listing and an rmdir); see
// RemoveIfSameIn to keep one for many calls.
func RemoveIfSame(dirfd int, name string, fd int, strict bool) (fallback.Method, error) {
	return RemoveIfSameIn(nil, dirfd, name, fd, strict)
}

// RemoveIfSameIn is RemoveIfSame with the move-aside place that stages
// keeps for dirfd, made on first need (see fallback.Stages).
func RemoveIfSameIn(stages *fallback.Stages, dirfd int, name string, fd int, strict bool) (fallback.Method, error) {
	if err := fallback.CheckName(name); err != nil {
		return fallback.None, err
	}
	var want unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &want) }); err != nil {
		return fallback.None, err
	}
	if capability.Has(capability.Funlinkat) {
		return fallback.Funlinkat, funlinkat(dirfd, name, fd, &want)
	}
	if ok, why := fallback.CanMoveAside(fd, &want); !ok {
		if strict {
			return fallback.None, fmt.Errorf("a removal verified without a window is not possible here: %s: %w", why, errors.ErrUnsupported)
		}
		return fallback.CompareUnlink, fallback.IfSame(dirfd, name, &want, func() error {
			return fallback.UnlinkAs(dirfd, name, &want)
		})
	}
	a, err := fallback.TakeAsideIn(stages, dirfd, name, &want, putBack)
	if err != nil {
		if fallback.FullAndPrivate(dirfd, err) {
			return fallback.CompareUnlink, fallback.IfSame(dirfd, name, &want, func() error {
				return fallback.UnlinkAs(dirfd, name, &want)
			})
		}
		return fallback.MoveAside, err
	}
	if !a.Same() {
		return fallback.MoveAside, a.PutBack(fallback.ErrChanged)
	}
	return fallback.MoveAside, a.Unlink()
}

// putBack returns a stranger's object to its name without replacing
// anything (renameat2 with NoReplace; from the private stage, its
// link+unlink emulation is as exact as the kernel flag).
func putBack(olddirfd int, oldname string, newdirfd int, newname string) error {
	return renameat2.Rename(olddirfd, oldname, newdirfd, newname, renameat2.NoReplace)
}
