//go:build unix

package dirfd

import (
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/linkat"
	"github.com/racefree/racefree/renameat2"
)

// RenameBetween renames oldname in olddir to newname in newdir: one
// rename(2) with a directory descriptor for each side, each name resolved
// inside its own Dir (G1), a final symlink moved itself, never followed.
// It is how an object moves between two trees held open separately (a
// spool directory and a container's rootfs, the directories of two
// command-line operands), which no single Dir can name.
//
// flags is 0, renameat2.NoReplace or renameat2.Exchange, with the meaning
// and the fallbacks of Rename's kernel call, RenameNoReplace and Exchange:
// 0 replaces newname as rename(2) does (a directory replaces only an empty
// directory, a non-directory never a directory); NoReplace fails with an
// error matching fs.ErrExist; Exchange swaps two existing names and is
// never emulated. If either Dir is Strict, an emulation is refused with
// errors.ErrUnsupported. Names on different filesystems fail with EXDEV.
// Errors are *os.LinkError.
func RenameBetween(olddir *Dir, oldname string, newdir *Dir, newname string, flags renameat2.Flags) error {
	if olddir.cfg.strict || newdir.cfg.strict {
		flags |= renameat2.Strict
	}
	err := between(olddir, oldname, newdir, newname, func(op int, olast string, np int, nlast string) error {
		return renameat2.Rename(op, olast, np, nlast, flags)
	})
	if err != nil {
		return &os.LinkError{Op: "renameat2", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// LinkBetween makes newname in newdir a hard link to oldname in olddir, as
// Link does within one Dir: a final symlink in oldname is linked itself,
// an existing newname is not replaced (EEXIST), and a directory cannot be
// linked (EPERM). Errors are *os.LinkError.
func LinkBetween(olddir *Dir, oldname string, newdir *Dir, newname string) error {
	return linkBetween(olddir, oldname, newdir, newname, func(op int, olast string, np int, nlast string) error {
		return eintr.Retry(func() error { return unix.Linkat(op, olast, np, nlast, 0) })
	})
}

// ReplaceLinkBetween is LinkBetween that replaces an existing file or
// symlink at newname atomically, as ReplaceLink does within one Dir: the
// link is made in a private staging directory in newname's parent and
// renamed over newname, so every reader sees the old object or the new
// one (G2), and a directory at newname is not replaced (EISDIR).
func ReplaceLinkBetween(olddir *Dir, oldname string, newdir *Dir, newname string) error {
	return linkBetween(olddir, oldname, newdir, newname, linkat.ReplaceLink)
}

func linkBetween(olddir *Dir, oldname string, newdir *Dir, newname string, link func(op int, olast string, np int, nlast string) error) error {
	var err error
	if strings.HasSuffix(oldname, "/") {
		// As in Link: "old/" would make linkat follow a final symlink
		// outside our containment. It names a directory (EPERM) or fails
		// its lookup (ENOTDIR).
		err = olddir.do(oldname, func() error {
			return olddir.withObject(oldname, true, func(object) error { return unix.EPERM })
		})
	} else {
		err = between(olddir, oldname, newdir, newname, link)
	}
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// between resolves the parent of oldname in olddir and of newname in
// newdir, each held for the duration, and calls f with both.
func between(olddir *Dir, oldname string, newdir *Dir, newname string, f func(op int, olast string, np int, nlast string) error) error {
	return olddir.do(oldname, func() error {
		return olddir.inParent(oldname, func(op int, olast string) error {
			return newdir.do(newname, func() error {
				return newdir.inParent(newname, func(np int, nlast string) error {
					return f(op, olast, np, nlast)
				})
			})
		})
	})
}
