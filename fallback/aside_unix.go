//go:build unix

package fallback

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
)

// ConflictPrefix starts the name under which an object is kept that was
// taken aside and could not go back under its own name (the name was taken
// again meanwhile, or the process was killed and dirfd.Dir.RemoveStale put
// it back). Such an entry holds somebody's data, so it has a visible name
// for its owner to find, and nothing of racefree's ever removes it.
const ConflictPrefix = "racefree-conflict-"

// Stages keeps private directories for reuse: at most one per parent
// directory and kind, each made on first need, verified at birth
// (DESIGN.md S1), and removed by Close (S3). A nil *Stages keeps nothing:
// every operation makes its own private directory and removes it again,
// which costs a mkdirat, an openat, an fstat, a listing and an rmdir more.
// The zero value is ready to use; Close it when done. dirfd.Dir keeps one
// for every Dir.
type Stages = staging.Cache

// RenameFunc renames like renameat(2) but must fail with EEXIST, and
// replace nothing, when newname exists: a rename with RENAME_NOREPLACE, or
// its emulation. Asides use it to put objects back.
type RenameFunc func(olddirfd int, oldname string, newdirfd int, newname string) error

// Aside is an object taken out of a shared directory into a private
// directory (the move-aside place), so that it can be examined and acted
// on where no one else can swap it (the move-aside of DESIGN.md, G3).
//
// Why this is race-free against other users: the place is a mode-0700
// directory of ours, verified empty and ours when it was made (see
// Stages), used only through its descriptor, and the object gets a name
// in it that nothing else there has. Once the rename has put the object
// there, no other user can rename, replace or remove that entry; what the
// entry holds is what the rename took, and comparing it with the expected
// object cannot be fooled. A stranger's object is renamed back with
// no-replace semantics, so nothing that has meanwhile appeared under the
// name is replaced either; if the name has been taken, the object is kept
// under a fresh ConflictPrefix name beside it and the error says where.
// Nothing is ever removed that was not verified, and nothing is lost: a
// process killed while an object is aside leaves it in a directory named
// ".racefree-aside-" and random hex, from where dirfd.Dir.RemoveStale puts
// it back under a ConflictPrefix name (S4).
//
// What it costs: for the duration, the name is absent (a reader sees
// ENOENT where the stranger's object was), and the object has a different
// parent for a moment, which needs write permission on a directory (to
// rewrite its "..": see CanMoveAside). An attacker with our own uid can
// enter the place (it is theirs too); the guarantee is against other users.
type Aside struct {
	dir       int    // the directory the object was taken from
	name      string // its name there
	stages    *Stages
	place     *staging.Dir
	entry     string // its name in the place
	noReplace RenameFunc
	st        unix.Stat_t // the object now in the place
	want      unix.Stat_t // the object expected
}

// StageError is how TakeAsideIn reports that no private directory could be
// made in the directory (ENOSPC, EDQUOT, EACCES, EMLINK, ...): nothing was
// moved. Another user who can write the directory can cause some of these
// (fill the disk), so a caller must not answer it with a weaker sequence,
// except where that sequence has no window either (see PrivateDir).
type StageError = staging.CreateError

// TakeAside is TakeAsideIn without kept directories: it makes a private
// directory for this one object and removes it when the Aside ends.
func TakeAside(dirfd int, name string, want *unix.Stat_t, noReplace RenameFunc) (*Aside, error) {
	return TakeAsideIn(nil, dirfd, name, want, noReplace)
}

// TakeAsideIn renames name in dirfd into the move-aside place that stages
// keeps for dirfd (made there, so that the rename stays on one filesystem)
// and records what it took; Same then says whether that is want's object.
// noReplace is used to put objects back. The caller must end the Aside
// with Finish, Unlink or PutBack.
//
// Moving a directory to another parent needs write permission on it, so a
// stranger's directory under the name usually cannot be taken (EACCES, or
// EPERM in a sticky directory for a stranger's anything). Such a refusal
// is answered with ErrChanged when the name does not refer to want's
// object: nothing was done, and the object there is not ours.
func TakeAsideIn(stages *Stages, dirfd int, name string, want *unix.Stat_t, noReplace RenameFunc) (*Aside, error) {
	a := &Aside{dir: dirfd, name: name, stages: stages, noReplace: noReplace, want: *want}
	place, err := stages.Hold(dirfd, staging.Aside, func(place *staging.Dir) error {
		a.entry = place.NewName("object")
		return eintr.Retry(func() error { return unix.Renameat(dirfd, name, place.Fd, a.entry) })
	})
	if err != nil {
		if _, ok := errors.AsType[*StageError](err); !ok && (err == unix.EACCES || err == unix.EPERM) && !a.nameIsWant() {
			return nil, ErrChanged
		}
		return nil, err
	}
	a.place = place
	if err := eintr.Retry(func() error { return unix.Fstatat(place.Fd, a.entry, &a.st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return nil, a.PutBack(err)
	}
	return a, nil
}

// nameIsWant reports whether the name (not followed) refers to want's
// object now.
func (a *Aside) nameIsWant() bool {
	var now unix.Stat_t
	return eintr.Retry(func() error { return unix.Fstatat(a.dir, a.name, &now, unix.AT_SYMLINK_NOFOLLOW) }) != nil || Same(&now, &a.want)
}

// Same reports whether the object taken aside is the expected one.
func (a *Aside) Same() bool { return Same(&a.st, &a.want) }

// Finish applies act to the object inside the place (given as the place's
// descriptor and the object's name in it): unlink it, or rename it out. If
// act fails, the object is put back (see PutBack) and act's error returned.
func (a *Aside) Finish(act func(placefd int, name string) error) error {
	if err := act(a.place.Fd, a.entry); err != nil {
		return a.PutBack(err)
	}
	a.stages.Release(a.place)
	return nil
}

// Unlink removes the object from the place: unlink, or rmdir for a
// directory (a directory that is not empty goes back, with ENOTEMPTY).
func (a *Aside) Unlink() error {
	return a.Finish(func(placefd int, name string) error { return UnlinkAs(placefd, name, &a.st) })
}

// PutBack returns the object to its name, without replacing anything that
// has appeared there meanwhile, and returns reason. If the name has been
// taken again, or putting back fails, the object is kept under a fresh
// ConflictPrefix name in the same directory and a *ConflictError wrapping
// reason says where; if even that fails it stays in the place, which is
// then left in place, and the *ConflictError names it there.
func (a *Aside) PutBack(reason error) error {
	err := a.noReplace(a.place.Fd, a.entry, a.dir, a.name)
	if err == nil {
		a.stages.Release(a.place)
		return reason
	}
	kept, kerr := Keep(a.noReplace, a.place.Fd, a.entry, a.dir)
	if kerr != nil {
		// The place holds the object: it must stay, never be emptied.
		name := a.place.Name + "/" + a.entry
		a.stages.Drop(a.place)
		return &ConflictError{
			Name: name,
			Err:  fmt.Errorf("%w; putting it back failed (%v), and so did keeping it beside (%v)", reason, err, kerr),
		}
	}
	a.stages.Release(a.place)
	if !errors.Is(err, unix.EEXIST) {
		reason = fmt.Errorf("%w; putting it back failed: %v", reason, err)
	}
	return &ConflictError{Name: kept, Err: reason}
}

// Keep moves name in fromfd (a private directory of ours) to a fresh
// ConflictPrefix name in dirfd and returns that name. The no-replace
// rename is tried first; where it cannot move this object (a directory
// where the filesystem lacks RENAME_NOREPLACE, a file that cannot be
// hard-linked), a plain rename is used: the name was drawn just now from
// 96 random bits, so no one can have created it to be replaced, and a name
// that does exist (EEXIST from the no-replace) is redrawn.
func Keep(noReplace RenameFunc, fromfd int, name string, dirfd int) (string, error) {
	var err error
	for range 8 {
		var b [12]byte
		rand.Read(b[:])
		kept := ConflictPrefix + hex.EncodeToString(b[:])
		err = noReplace(fromfd, name, dirfd, kept)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			err = eintr.Retry(func() error { return unix.Renameat(fromfd, name, dirfd, kept) })
		}
		return kept, err
	}
	return "", err
}
