//go:build unix

package dirfd

import (
	"os"
	"strings"

	"github.com/racefree/racefree/linkat"
	"github.com/racefree/racefree/opath"
)

// ReplaceLink makes newname a hard link to oldname, atomically replacing a
// file or symlink already at newname: every reader sees the old object or
// oldname's, never a missing name (G2). As with Link, a final symlink in
// oldname is linked itself, not followed, and both names are resolved
// inside the tree. The link is made in a private mode-0700 staging
// directory in newname's parent and renamed over newname, so no other user
// can swap it before it is published.
//
// A directory cannot be linked (EPERM) and an existing directory at
// newname is not replaced (EISDIR). When newname already is a link to the
// same object, nothing changes and nothing is left behind (rename(2) is a
// no-op for two links to one inode). Errors are *os.LinkError.
func (d *Dir) ReplaceLink(oldname, newname string) error {
	if strings.HasSuffix(oldname, "/") {
		// "old/" names a directory, or fails its lookup, so it can never be
		// linked; Link resolves it inside the tree and answers as linkat
		// would.
		return d.Link(oldname, newname)
	}
	err := d.twoNames(oldname, newname, func(op int, olast string, np int, nlast string) error {
		return linkat.ReplaceLinkIn(d.stages, op, olast, np, nlast)
	})
	if err != nil {
		return &os.LinkError{Op: "linkat", Old: oldname, New: newname, Err: err}
	}
	return nil
}

// LinkHandle gives the object h refers to the name newname inside the tree
// ("flink"), whatever has happened to the object's own names since h was
// opened: the object linked is the one h pins, never whatever a name
// refers to by now (G3). h need not have been opened through d: holding a
// handle is the authority to name its object; newname is resolved in the
// tree like any other name, and must be on the object's filesystem
// (EXDEV otherwise).
//
// On Linux it uses linkat(AT_EMPTY_PATH) or, where the kernel refuses that
// to this process, /proc/thread-self/fd through filepath-securejoin's
// hardened procfs (see linkat.LinkFd). Both link exactly h's object with
// the same kernel checks, so the procfs route is not a weaker emulation
// and Strict allows it. A directory cannot be linked (EPERM), nor an object
// that has lost its last name (ENOENT), and an existing newname is not
// replaced (EEXIST). Elsewhere, and on Linux without either route, the
// error wraps errors.ErrUnsupported. Errors are *os.LinkError.
func (d *Dir) LinkHandle(h *opath.Handle, newname string) error {
	return d.linkHandle(h, newname, func(fd, parent int, last string) error { return linkat.LinkFd(fd, parent, last) })
}
