package dirfd

import "github.com/racefree/racefree/opath"

// ReplaceLink is not supported on Windows.
func (d *Dir) ReplaceLink(oldname, newname string) error { return unsupported("linkat", newname) }

// LinkHandle is not supported on Windows.
func (d *Dir) LinkHandle(h *opath.Handle, newname string) error {
	return unsupported("linkat", newname)
}
