//go:build unix

package linkat

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
)

// ReplaceSymlink makes name in dirfd a symlink to target, atomically
// replacing whatever non-directory is there. An existing directory is not
// replaced (EISDIR, or ENOTEMPTY/EEXIST as the filesystem says).
//
// The link is made in a private stage in dirfd (DESIGN.md S1) and renamed
// over name. ReplaceSymlink makes the stage for the call and removes it
// again: 8 system calls (mkdirat, openat, fstat, a listing and a dup to
// make and check the stage; symlinkat and renameat; the stage's rmdir
// with its identity check, and closes). ReplaceSymlinkIn with kept Stages,
// or a Replacer, costs symlinkat and renameat once the stage exists.
func ReplaceSymlink(target string, dirfd int, name string) error {
	return ReplaceSymlinkIn(nil, target, dirfd, name)
}

// ReplaceSymlinkIn is ReplaceSymlink with the stage that stages keeps for
// dirfd, made on first need (see fallback.Stages).
func ReplaceSymlinkIn(stages *fallback.Stages, target string, dirfd int, name string) error {
	if err := checkName(target); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	return publish(stages, dirfd, name, false, func(stage int, staged string) error {
		return unix.Symlinkat(target, stage, staged)
	})
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
// both names in place and succeeds (POSIX); the staged name that remains
// is removed, so nothing is left behind and the call succeeds with
// nothing changed, as it should.
//
// Cost: as ReplaceSymlink, with linkat for symlinkat and one unlinkat
// more (the staged name, gone unless the rename was that no-op).
func ReplaceLink(olddirfd int, oldname string, newdirfd int, newname string) error {
	return ReplaceLinkIn(nil, olddirfd, oldname, newdirfd, newname)
}

// ReplaceLinkIn is ReplaceLink with the stage that stages keeps for
// newdirfd, made on first need (see fallback.Stages).
func ReplaceLinkIn(stages *fallback.Stages, olddirfd int, oldname string, newdirfd int, newname string) error {
	if err := checkName(oldname); err != nil {
		return err
	}
	if err := checkName(newname); err != nil {
		return err
	}
	return publish(stages, newdirfd, newname, true, func(stage int, staged string) error {
		return unix.Linkat(olddirfd, oldname, stage, staged, 0)
	})
}

// Replacer replaces links in one directory through one kept stage, so a
// batch (`ln -sf T1 T2 ... DIR`) pays for the stage once.
type Replacer struct {
	dirfd  int
	stages fallback.Stages
}

// NewReplacer returns a Replacer for dirfd, which must stay open until
// Close. The stage is made at the first replacement.
func NewReplacer(dirfd int) (*Replacer, error) {
	return &Replacer{dirfd: dirfd}, nil
}

// ReplaceSymlink makes name a symlink to target in the Replacer's
// directory, atomically (2 system calls once the stage exists: symlinkat,
// renameat).
func (r *Replacer) ReplaceSymlink(target, name string) error {
	return ReplaceSymlinkIn(&r.stages, target, r.dirfd, name)
}

// ReplaceLink makes name in the Replacer's directory a hard link to
// oldname in olddirfd, atomically, as the function ReplaceLink does (3
// system calls once the stage exists: linkat, renameat, and an unlinkat
// that finds the staged name gone unless name already was a link to the
// same object).
func (r *Replacer) ReplaceLink(olddirfd int, oldname, name string) error {
	return ReplaceLinkIn(&r.stages, olddirfd, oldname, r.dirfd, name)
}

// publish creates an object under a fresh name in the stage with create,
// then renames it over name. The staged name is removed (by the name we
// gave it, in our private stage, S2) if the rename failed, and with clean
// also after a rename that may have been the POSIX no-op for two links of
// one inode.
func publish(stages *fallback.Stages, dirfd int, name string, clean bool, create func(stage int, staged string) error) error {
	return stages.Do(dirfd, staging.Stage, func(s *staging.Dir) error {
		staged := s.NewName("link")
		if err := eintr.Retry(func() error { return create(s.Fd, staged) }); err != nil {
			return err
		}
		err := eintr.Retry(func() error { return unix.Renameat(s.Fd, staged, dirfd, name) })
		if err != nil || clean {
			if uerr := eintr.Retry(func() error { return unix.Unlinkat(s.Fd, staged, 0) }); uerr != unix.ENOENT && err == nil {
				err = uerr
			}
		}
		return err
	})
}

// Close removes the stage.
func (r *Replacer) Close() error { return r.stages.Close() }
