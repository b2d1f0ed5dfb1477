//go:build unix

package renameat2

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
)

// RenameIfSame renames oldname in olddirfd to newname in newdirfd, like
// Rename with flags, but only while oldname still refers to the object fd
// refers to (G3 in DESIGN.md): an object someone else has put under
// oldname is never moved. On a mismatch nothing is renamed and the error
// wraps fallback.ErrChanged. flags may hold NoReplace (newname must not
// exist) and Strict; without NoReplace an existing newname is replaced as
// rename(2) does. Exchange and Whiteout fail with EINVAL. Both names must be
// single entries (fallback.CheckName).
//
// No kernel renames by descriptor, so the Method is one of two sequences:
//
//   - fallback.MoveAside, whenever fallback.CanMoveAside allows it: oldname
//     is renamed into a private stage in olddirfd, compared there, and only
//     if it is fd's object renamed from the stage to newname. A stranger's
//     object is put back under oldname without replacing anything; if
//     oldname has been taken again meanwhile it is kept under a
//     fallback.ConflictPrefix name and the *fallback.ConflictError says
//     where. If the final rename fails (EEXIST with NoReplace, EXDEV, ...),
//     our own object goes back the same way and that error is returned.
//     For the duration, oldname is absent. Whatever the filesystem, the
//     rename out of the stage is never weaker than Rename's: the no-replace
//     emulation (link+unlink) is exact when the old name is one no one else
//     can see, so Strict has nothing to refuse there.
//   - fallback.CompareRename (fstatat, compare, renameat by name) for a
//     directory where the filesystem has no no-replace rename (the BSDs) or
//     that we cannot write (moving it to the stage rewrites its ".."). The
//     name can be swapped between the compare and the rename; with Strict
//     this is refused with an error wrapping errors.ErrUnsupported.
//
// As in unlinkat.RemoveIfSame, a stage that cannot be made because the
// filesystem is full is answered with fallback.CompareRename only where
// olddirfd is a directory no other user can write (fallback.PrivateDir),
// and Strict has nothing to refuse there. RenameIfSame makes a stage for
// the call; RenameIfSameIn keeps one for many calls.
func RenameIfSame(olddirfd int, oldname string, fd int, newdirfd int, newname string, flags Flags) (fallback.Method, error) {
	return RenameIfSameIn(nil, olddirfd, oldname, fd, newdirfd, newname, flags)
}

// RenameIfSameIn is RenameIfSame with the move-aside place that stages
// keeps for olddirfd, made on first need (see fallback.Stages).
func RenameIfSameIn(stages *fallback.Stages, olddirfd int, oldname string, fd int, newdirfd int, newname string, flags Flags) (fallback.Method, error) {
	if err := flags.check(); err != nil {
		return fallback.None, err
	}
	if flags&(Exchange|Whiteout) != 0 {
		return fallback.None, fmt.Errorf("RenameIfSame takes NoReplace and Strict only: %w", unix.EINVAL)
	}
	if err := fallback.CheckName(oldname); err != nil {
		return fallback.None, err
	}
	if err := fallback.CheckName(newname); err != nil {
		return fallback.None, err
	}
	var want unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &want) }); err != nil {
		return fallback.None, err
	}
	if ok, why := fallback.CanMoveAside(fd, &want); !ok {
		if flags&Strict != 0 {
			return fallback.None, unsupported("a rename verified without a window is not possible here: " + why)
		}
		return fallback.CompareRename, fallback.IfSame(olddirfd, oldname, &want, func() error {
			return Rename(olddirfd, oldname, newdirfd, newname, flags)
		})
	}
	a, err := fallback.TakeAsideIn(stages, olddirfd, oldname, &want, noReplace)
	if err != nil {
		if fallback.FullAndPrivate(olddirfd, err) {
			return fallback.CompareRename, fallback.IfSame(olddirfd, oldname, &want, func() error {
				return Rename(olddirfd, oldname, newdirfd, newname, flags&^Strict)
			})
		}
		return fallback.MoveAside, err
	}
	if !a.Same() {
		return fallback.MoveAside, a.PutBack(fallback.ErrChanged)
	}
	return fallback.MoveAside, a.Finish(func(stagefd int, name string) error {
		return Rename(stagefd, name, newdirfd, newname, flags&^Strict)
	})
}

// noReplace is the fallback.RenameFunc with which objects taken aside are
// put back: RENAME_NOREPLACE, or link+unlink from the private stage, which
// no one else can see, so the emulation is as exact there as the flag.
func noReplace(olddirfd int, oldname string, newdirfd int, newname string) error {
	return Rename(olddirfd, oldname, newdirfd, newname, NoReplace)
}
