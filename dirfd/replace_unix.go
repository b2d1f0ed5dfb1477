//go:build unix

package dirfd

import (
	"os"
	"strings"

	"github.com/racefree/racefree/linkat"
)

// ReplaceSymlink makes name a symlink to target, atomically replacing a
// file or symlink already there: every reader sees the old object or the
// new link, never a missing name (G2). The link is staged in a private
// mode-0700 directory in name's parent, so no other user can swap it before
// it is published. An existing directory is not replaced (EISDIR).
func (d *Dir) ReplaceSymlink(target, name string) error {
	err := d.do(name, func() error {
		if strings.IndexByte(target, 0) >= 0 {
			return errNulByte
		}
		return d.inParent(name, func(parent int, last string) error {
			return linkat.ReplaceSymlinkIn(d.stages, target, parent, last)
		})
	})
	if err != nil {
		return &os.LinkError{Op: "symlinkat", Old: target, New: name, Err: err}
	}
	return nil
}
