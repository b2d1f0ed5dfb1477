package dirfd

// atEntry is inParent's resolution. Linux's entry calls never follow a
// final symlink, with a trailing slash or without, so the last component
// is handed to them as it is, and they judge the slash.
func (d *Dir) atEntry(name string, f func(parent int, last string) error) error {
	return d.parentOf(name, f)
}
