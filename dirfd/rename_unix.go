//go:build unix

package dirfd

import (
	"os"

	"github.com/racefree/racefree/renameat2"
)

// RenameNoReplace renames oldname to newname, failing with an error that
// matches fs.ErrExist if newname exists, atomically where the filesystem has
// RENAME_NOREPLACE (or macOS RENAME_EXCL). Elsewhere a non-directory is
// moved with link then unlink, during which both names briefly exist; in
// Strict mode that emulation is refused with errors.ErrUnsupported.
func (d *Dir) RenameNoReplace(oldname, newname string) error {
	return d.renameFlags("renameat2", oldname, newname, renameat2.NoReplace)
}

// Exchange atomically swaps name1 and name2, which must both exist: every
// reader sees one object or the other under each name, never a gap. It is
// never emulated: without RENAME_EXCHANGE (or macOS RENAME_SWAP) on this
// filesystem it fails with errors.ErrUnsupported. Names on different
// filesystems fail with EXDEV.
func (d *Dir) Exchange(name1, name2 string) error {
	return d.renameFlags("renameat2", name1, name2, renameat2.Exchange)
}

func (d *Dir) renameFlags(op, oldname, newname string, flags renameat2.Flags) error {
	if d.cfg.strict {
		flags |= renameat2.Strict
	}
	err := d.twoNames(oldname, newname, func(op int, olast string, np int, nlast string) error {
		return renameat2.Rename(op, olast, np, nlast, flags)
	})
	if err != nil {
		return &os.LinkError{Op: op, Old: oldname, New: newname, Err: err}
	}
	return nil
}
