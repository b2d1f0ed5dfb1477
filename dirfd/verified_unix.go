//go:build unix

package dirfd

import (
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/opath"
	"github.com/racefree/racefree/renameat2"
	"github.com/racefree/racefree/unlinkat"
)

// RemoveIfSame removes name, a file, a symlink or an empty directory (as
// Remove, a final symlink is removed itself), but only while name still
// refers to the object h pins (G3): an object someone else has put under
// the name meanwhile is never removed, and never lost. On a mismatch
// nothing is removed and the error matches ErrChanged. h need not have been
// opened through d.
//
// How, strongest first (see unlinkat.RemoveIfSame): FreeBSD's funlinkat(2);
// else the move-aside, which renames the name into a private mode-0700
// stage in its directory, compares there and unlinks there (no window; for
// a moment the name is absent). A stranger's object found that way is put
// back without replacing anything; if the name has been taken again
// meanwhile it is kept beside, under a ".racefree-conflict-" name, and the
// error (a *fallback.ConflictError inside, still matching ErrChanged) says
// which. Last, for a directory that cannot be moved aside (no no-replace
// rename for directories on this filesystem, as on the BSDs, or not
// writable by us), fstatat-compare-unlinkat, whose window lets another user
// swap in an object of theirs between the compare and the unlink. A Strict
// Dir refuses that sequence with an error wrapping errors.ErrUnsupported.
//
// A trailing slash requires h's object to be a directory (ENOTDIR). The
// error is a *fs.PathError.
func (d *Dir) RemoveIfSame(name string, h *opath.Handle) error {
	err := d.do(name, func() error {
		return d.inParent(name, func(parent int, last string) error {
			return withHandleFd(h, func(fd int) error {
				entry, err := handleEntry(last, fd)
				if err != nil {
					return err
				}
				_, err = unlinkat.RemoveIfSameIn(d.stages, parent, entry, fd, d.cfg.strict)
				return err
			})
		})
	})
	return pathErr("removeat", name, err)
}

// RenameIfSame renames oldname to newname, but only while oldname still
// refers to the object h pins (G3): an object someone else has put under
// oldname meanwhile is never moved, and never lost. On a mismatch nothing
// is renamed and the error matches ErrChanged. An existing newname is
// replaced as rename(2) replaces it (a directory replaces only an empty
// directory).
//
// How (see renameat2.RenameIfSame): no kernel renames by descriptor, so
// oldname is moved aside into a private stage in its directory, compared
// there, and renamed from the stage to newname (no window; for a moment
// oldname is absent). A stranger's object is put back as RemoveIfSame puts
// it back, and so is ours if the final rename fails (EXDEV, EINVAL for a
// directory into itself, ...). A directory that cannot be moved aside (no
// no-replace rename for directories on this filesystem, or not writable by
// us) is renamed with fstatat-compare-renameat, which has a window; a
// Strict Dir refuses that with an error wrapping errors.ErrUnsupported.
//
// A trailing slash on either name requires h's object to be a directory
// (ENOTDIR). The error is an *os.LinkError.
func (d *Dir) RenameIfSame(oldname string, h *opath.Handle, newname string) error {
	var flags renameat2.Flags
	if d.cfg.strict {
		flags |= renameat2.Strict
	}
	err := d.twoNames(oldname, newname, func(op int, olast string, np int, nlast string) error {
		return withHandleFd(h, func(fd int) error {
			oentry, err := handleEntry(olast, fd)
			if err != nil {
				return err
			}
			nentry, err := handleEntry(nlast, fd)
			if err != nil {
				return err
			}
			_, err = renameat2.RenameIfSameIn(d.stages, op, oentry, fd, np, nentry, flags)
			return err
		})
	})
	if err != nil {
		return &os.LinkError{Op: "renameat", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// withHandleFd runs f with h's descriptor, held open for the duration so
// that a concurrent Close cannot hand f a recycled number.
func withHandleFd(h *opath.Handle, f func(fd int) error) error {
	if h == nil {
		return fs.ErrInvalid
	}
	rc, err := h.File().SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		// Control fails only once h is being closed.
		return os.ErrClosed
	}
	return ferr
}

// handleEntry strips the trailing slashes splitLast leaves on last: they
// ask for a directory, which for these operations means h's object must be
// one, as rmdir(2) and rename(2) would insist of the name's.
func handleEntry(last string, fd int) (string, error) {
	entry := strings.TrimRight(last, "/")
	if entry == last {
		return last, nil
	}
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return "", unix.ENOTDIR
	}
	return entry, nil
}
