//go:build unix && !linux

package dirfd

// atEntry is inParent's resolution. These systems' entry calls follow a
// final symlink named with a trailing slash, out of the tree for all they
// know, so the slash is resolved here (see followSlash).
func (d *Dir) atEntry(name string, f func(parent int, last string) error) error {
	return d.followSlash(name, f)
}
