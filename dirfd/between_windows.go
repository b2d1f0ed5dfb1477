package dirfd

import "github.com/racefree/racefree/renameat2"

// RenameBetween is not supported on Windows.
func RenameBetween(olddir *Dir, oldname string, newdir *Dir, newname string, flags renameat2.Flags) error {
	return unsupported("renameat2", newname)
}

// LinkBetween is not supported on Windows.
func LinkBetween(olddir *Dir, oldname string, newdir *Dir, newname string) error {
	return unsupported("linkat", newname)
}

// ReplaceLinkBetween is not supported on Windows.
func ReplaceLinkBetween(olddir *Dir, oldname string, newdir *Dir, newname string) error {
	return unsupported("linkat", newname)
}
