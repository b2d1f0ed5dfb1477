//go:build linux

package cases

import (
	"errors"
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// renamed is the name operation i renames its file to.
func renamed(i int) string { return fmt.Sprintf("y%d", i) }

// renameIfSameImpl renames, per operation, a file it created and holds a
// handle of (untimed) to a new name: the old name must be gone and the new
// one the handle's object.
func renameIfSameImpl(name, title string, floor bool, op func(r *removeIfSameRun, i int) error) Impl {
	return verifiedImpl(name, title, floor, op, func(r *removeIfSameRun, i int) error {
		if err := gone(r.dir, r.names[i]); err != nil {
			return err
		}
		var got, want unix.Stat_t
		if err := unix.Lstat(filepath.Join(r.dir, renamed(i)), &got); err != nil {
			return err
		}
		if err := unix.Fstat(r.fds[i], &want); err != nil {
			return err
		}
		if got.Dev != want.Dev || got.Ino != want.Ino {
			return fmt.Errorf("%s is not the renamed object", renamed(i))
		}
		return nil
	})
}

var renameIfSameOp = &Op{
	Name:    "RenameIfSame",
	Title:   "rename of a file only if the name still refers to the object a handle pins",
	Params:  none,
	Counted: 200,
	Impls: []Impl{
		renameIfSameImpl("racefree", "racefree `Dir.RenameIfSame` (move-aside)", false, func(r *removeIfSameRun, i int) error {
			return r.d.RenameIfSame(r.names[i], r.handles[i], renamed(i))
		}),
		// What hand-written code does: compare, then rename. Another user
		// can swap the name between the two.
		renameIfSameImpl("naive", "naive `fstat` + `fstatat`, compare, `renameat`", false, func(r *removeIfSameRun, i int) error {
			var want, got unix.Stat_t
			if err := unix.Fstat(r.fds[i], &want); err != nil {
				return err
			}
			if err := unix.Fstatat(r.fd, r.names[i], &got, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			if got.Dev != want.Dev || got.Ino != want.Ino {
				return errors.New("changed")
			}
			return unix.Renameat(r.fd, r.names[i], r.fd, renamed(i))
		}),
		// The rename without any verification.
		renameIfSameImpl("renameat", "raw `renameat` (floor, unverified)", true, func(r *removeIfSameRun, i int) error {
			return unix.Renameat(r.fd, r.names[i], r.fd, renamed(i))
		}),
	},
}
