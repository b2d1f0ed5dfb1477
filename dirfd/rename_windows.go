package dirfd

// RenameNoReplace is not supported on Windows.
func (d *Dir) RenameNoReplace(oldname, newname string) error {
	return unsupported("renameat2", newname)
}

// Exchange is not supported on Windows.
func (d *Dir) Exchange(name1, name2 string) error { return unsupported("renameat2", name2) }

// ReplaceSymlink is not supported on Windows.
func (d *Dir) ReplaceSymlink(target, name string) error { return unsupported("symlinkat", name) }
