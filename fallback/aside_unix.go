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

// ConflictPrefix starts the name under which an Aside keeps an object it
// could not put back under its own name. Such an entry holds somebody's
// data: clean-up of staging leftovers (dirfd.Dir.RemoveStale) must never
// touch it.
const ConflictPrefix = staging.Prefix + "conflict-"

// RenameFunc renames like renameat(2) but must fail with EEXIST, and
// replace nothing, when newname exists: a rename with RENAME_NOREPLACE, or
// its emulation. Asides use it to put objects back.
type RenameFunc func(olddirfd int, oldname string, newdirfd int, newname string) error

// entry is the name an Aside's object has inside its stage.
const entry = "object"

// Aside is an object taken out of a shared directory into a private
// staging directory, so that it can be examined and acted on where no one
// else can swap it (the move-aside of DESIGN.md, G3).
//
// Why this is race-free against other users: the stage is a fresh mode-0700
// directory (internal/staging), used only through its descriptor. Once the
// rename has put the object in it, no other user can rename, replace or
// remove that entry; what the stage holds is what the rename took, and
// comparing it with the expected object cannot be fooled. A stranger's
// object is renamed back with no-replace semantics, so nothing that has
// meanwhile appeared under the name is replaced either; if the name has
// been taken, the object is kept under a fresh ConflictPrefix name beside
// it and the error says where. Nothing is ever removed that was not
// verified, and nothing is lost.
//
// What it costs: for the duration, the name is absent (a reader sees
// ENOENT where the stranger's object was), and the object has a different
// parent for a moment, which needs write permission on a directory (to
// rewrite its "..": see CanMoveAside). An attacker with our own uid can
// enter the stage (it is theirs too); the guarantee is against other users.
type Aside struct {
	dir       int    // the directory the object was taken from
	name      string // its name there
	stage     *staging.Dir
	noReplace RenameFunc
	st        unix.Stat_t // the object now in the stage
	want      unix.Stat_t // the object expected
}

// TakeAside renames name in dirfd into a fresh private stage created in
// dirfd (so the rename stays on one filesystem) and records what it took;
// Same then says whether that is want's object. noReplace is used to put
// objects back. The caller must end the Aside with Finish, Unlink or
// PutBack.
//
// Moving a directory to another parent needs write permission on it, so a
// stranger's directory under the name usually cannot be taken (EACCES, or
// EPERM in a sticky directory for a stranger's anything). Such a refusal
// is answered with ErrChanged when the name does not refer to want's
// object: nothing was done, and the object there is not ours.
//
// An error from creating the stage (EACCES, ENOSPC, EMLINK, ...) is
// returned as it is: another user who can write the directory can cause
// some of these (fill the disk, the link count), so they must never switch
// the caller to a weaker sequence.
func TakeAside(dirfd int, name string, want *unix.Stat_t, noReplace RenameFunc) (*Aside, error) {
	stage, err := staging.Create(dirfd)
	if err != nil {
		return nil, err
	}
	// A plain rename is right: the stage is empty and only we can create
	// entries in it, so there is nothing to replace.
	if err := eintr.Retry(func() error { return unix.Renameat(dirfd, name, stage.Fd, entry) }); err != nil {
		stage.Remove()
		var now unix.Stat_t
		if (err == unix.EACCES || err == unix.EPERM) &&
			eintr.Retry(func() error { return unix.Fstatat(dirfd, name, &now, unix.AT_SYMLINK_NOFOLLOW) }) == nil && !Same(&now, want) {
			return nil, ErrChanged
		}
		return nil, err
	}
	a := &Aside{dir: dirfd, name: name, stage: stage, noReplace: noReplace, want: *want}
	if err := eintr.Retry(func() error { return unix.Fstatat(stage.Fd, entry, &a.st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return nil, a.PutBack(err)
	}
	return a, nil
}

// Same reports whether the object taken aside is the expected one.
func (a *Aside) Same() bool { return Same(&a.st, &a.want) }

// Finish applies act to the object inside the stage (given as the stage's
// descriptor and the object's name in it): unlink it, or rename it out. If
// act fails, the object is put back (see PutBack) and act's error returned.
func (a *Aside) Finish(act func(stagefd int, name string) error) error {
	if err := act(a.stage.Fd, entry); err != nil {
		return a.PutBack(err)
	}
	a.removeStage()
	return nil
}

// Unlink removes the object from the stage: unlink, or rmdir for a
// directory (a directory that is not empty goes back, with ENOTEMPTY).
func (a *Aside) Unlink() error {
	return a.Finish(func(stagefd int, name string) error { return UnlinkAs(stagefd, name, &a.st) })
}

// PutBack returns the object to its name, without replacing anything that
// has appeared there meanwhile, and returns reason. If the name has been
// taken again, or putting back fails, the object is kept under a fresh
// ConflictPrefix name in the same directory and a *ConflictError wrapping
// reason says where; if even that fails it stays in the stage, which is
// then left in place, and the *ConflictError names it there.
func (a *Aside) PutBack(reason error) error {
	err := a.noReplace(a.stage.Fd, entry, a.dir, a.name)
	if err == nil {
		a.removeStage()
		return reason
	}
	kept, kerr := a.keep()
	if kerr != nil {
		// The stage is ours and holds the object: close it, never empty it.
		unix.Close(a.stage.Fd)
		return &ConflictError{
			Name: a.stage.Name + "/" + entry,
			Err:  fmt.Errorf("%w; putting it back failed (%v), and so did keeping it beside (%v)", reason, err, kerr),
		}
	}
	a.removeStage()
	if !errors.Is(err, unix.EEXIST) {
		reason = fmt.Errorf("%w; putting it back failed: %v", reason, err)
	}
	return &ConflictError{Name: kept, Err: reason}
}

// keep moves the object to a fresh conflict name in the original directory.
// The no-replace rename is tried first; where it cannot move this object
// (a directory where the filesystem lacks RENAME_NOREPLACE, a file that
// cannot be hard-linked), a plain rename is used: the name was drawn just
// now from 96 random bits, so no one can have created it to be replaced,
// and a name that does exist (EEXIST from the no-replace) is redrawn.
func (a *Aside) keep() (string, error) {
	var err error
	for range 8 {
		var b [12]byte
		rand.Read(b[:])
		name := ConflictPrefix + hex.EncodeToString(b[:])
		err = a.noReplace(a.stage.Fd, entry, a.dir, name)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			err = eintr.Retry(func() error { return unix.Renameat(a.stage.Fd, entry, a.dir, name) })
		}
		return name, err
	}
	return "", err
}

// removeStage removes the now empty stage. Its failure is not the
// operation's: the object has been dealt with, and an empty stage that
// someone renamed away is a leftover with the staging prefix, for
// dirfd.Dir.RemoveStale.
func (a *Aside) removeStage() { a.stage.Remove() }
