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
	r, err := NewReplacer(dirfd)
	if err != nil {
		return err
	}
	err = r.ReplaceSymlink(target, name)
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
	if err := eintr.Retry(func() error { return unix.Symlinkat(target, r.stage.Fd, stagedName) }); err != nil {
		return err
	}
	err := eintr.Retry(func() error { return unix.Renameat(r.stage.Fd, stagedName, r.dirfd, name) })
	if err != nil {
		// Nothing was published; leave the stage empty for the next link.
		unix.Unlinkat(r.stage.Fd, stagedName, 0)
	}
	return err
}

// Close removes the staging directory.
func (r *Replacer) Close() error { return r.stage.Remove() }
