package dirfd

import "github.com/racefree/racefree/opath"

// RemoveIfSame is not supported on Windows.
func (d *Dir) RemoveIfSame(name string, h *opath.Handle) error {
	return unsupported("removeat", name)
}

// RenameIfSame is not supported on Windows.
func (d *Dir) RenameIfSame(oldname string, h *opath.Handle, newname string) error {
	return unsupported("renameat", newname)
}
