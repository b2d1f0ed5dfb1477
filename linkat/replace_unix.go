//go:build unix

package linkat

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
)

// ReplaceSymlink makes name in dirfd a symlink to target, atomically
// replacing whatever non-directory is there. An existing directory is not
// replaced (EISDIR, or ENOTEMPTY/EEXIST as the filesystem says).
//
// Cost: 7 system calls: mkdirat, openat and fstat to create and check the
// stage; symlinkat and renameat; unlinkat and close to remove the stage.
// (One more, geteuid, where the effective uid cannot safely be remembered:
// in a non-root process that may still change it; see internal/staging.)
// Use a Replacer to replace many links in one directory for 2 calls each.
//
// Once the rename has published the link, a failure to remove the stage
// (an attacker moved it) is not reported as a failure of the replacement:
// the empty leftover carries the staging prefix and Dir.RemoveStale
// removes it.
func ReplaceSymlink(target string, dirfd int, name string) error {
	if err := checkName(target); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	r, err := NewReplacer(dirfd)
	if err != nil {
		return err
	}
	err = r.ReplaceSymlink(target, name)
	r.Close()
	return err
}

// ReplaceLink makes newname in newdirfd a hard link to oldname in
// olddirfd, atomically replacing whatever non-directory is at newname:
// every reader sees the old object or oldname's, never a missing name
// (G2). A final symlink in oldname is linked itself, not followed, as
// linkat without AT_SYMLINK_FOLLOW does. The link is made in a private
// staging directory in newdirfd and renamed over newname.
//
// Errors: a directory at oldname cannot be linked (EPERM); a directory at
// newname is not replaced (EISDIR); the names must be on one filesystem
// (EXDEV); an empty name or one holding a NUL byte is EINVAL.
//
// When newname already is a link to oldname's object, rename(2) leaves
// both names in place and succeeds (POSIX); the staged name that would
// remain is removed with the stage, so nothing is left behind and the call
// succeeds with nothing changed, as it should.
//
// Cost: 7 system calls, as ReplaceSymlink with linkat for symlinkat.
func ReplaceLink(olddirfd int, oldname string, newdirfd int, newname string) error {
	if err := checkName(oldname); err != nil {
		return err
	}
	if err := checkName(newname); err != nil {
		return err
	}
	r, err := NewReplacer(newdirfd)
	if err != nil {
		return err
	}
	// Closing the stage empties it if the rename left the staged link in
	// it, so there is no need to look for it here.
	err = r.publish(newname, link(olddirfd, oldname))
	r.Close()
	return err
}

// Replacer replaces links in one directory through one staging directory,
// so a batch (`ln -sf T1 T2 ... DIR`) pays for the stage once.
type Replacer struct {
	dirfd int
	stage *staging.Dir
}

// NewReplacer creates the staging directory in dirfd.
func NewReplacer(dirfd int) (*Replacer, error) {
	s, err := staging.Create(dirfd)
	if err != nil {
		return nil, err
	}
	return &Replacer{dirfd: dirfd, stage: s}, nil
}

// stagedName is the name links are built under inside the private stage;
// nobody else can create or replace it there, so a fixed name is safe.
const stagedName = "link"

// ReplaceSymlink makes name a symlink to target in the Replacer's
// directory, atomically (2 system calls: symlinkat, renameat).
func (r *Replacer) ReplaceSymlink(target, name string) error {
	if err := checkName(target); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	return r.publish(name, func(stage int, staged string) error { return unix.Symlinkat(target, stage, staged) })
}

// ReplaceLink makes name in the Replacer's directory a hard link to
// oldname in olddirfd, atomically, as the function ReplaceLink does (3
// system calls: linkat, renameat, and an unlinkat that finds the staged
// name gone unless newname already was a link to the same object).
func (r *Replacer) ReplaceLink(olddirfd int, oldname, name string) error {
	if err := checkName(oldname); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	if err := r.publish(name, link(olddirfd, oldname)); err != nil {
		return err
	}
	// The stage must be empty for the next link. rename(2) was a no-op if
	// name already was a link to the same object, and left the staged name.
	if err := eintr.Retry(func() error { return unix.Unlinkat(r.stage.Fd, stagedName, 0) }); err != unix.ENOENT {
		return err
	}
	return nil
}

// link returns the step that hard-links oldname in olddirfd into the stage.
func link(olddirfd int, oldname string) func(stage int, staged string) error {
	return func(stage int, staged string) error { return unix.Linkat(olddirfd, oldname, stage, staged, 0) }
}

// publish creates the object under the staged name with create, then
// renames it over name. If the rename fails nothing was published, and the
// staged object is removed so the stage is empty for the next one.
func (r *Replacer) publish(name string, create func(stage int, staged string) error) error {
	if err := eintr.Retry(func() error { return create(r.stage.Fd, stagedName) }); err != nil {
		return err
	}
	err := eintr.Retry(func() error { return unix.Renameat(r.stage.Fd, stagedName, r.dirfd, name) })
	if err != nil {
		unix.Unlinkat(r.stage.Fd, stagedName, 0)
	}
	return err
}

// Close removes the staging directory.
func (r *Replacer) Close() error { return r.stage.Remove() }
