package dirfd

import (
	"io/fs"
	"os"
	"time"

	"github.com/racefree/racefree/opath"
)

// ReplaceFile is not supported on Windows.
func (d *Dir) ReplaceFile(name string, perm fs.FileMode, fill func(f *os.File) error) error {
	return unsupported("replacefile", name)
}

// ReplaceLinkHandle is not supported on Windows.
func (d *Dir) ReplaceLinkHandle(h *opath.Handle, newname string) error {
	return unsupported("linkat", newname)
}

// Lchtimes is not supported on Windows.
func (d *Dir) Lchtimes(name string, atime, mtime time.Time) error {
	return unsupported("lchtimes", name)
}

// Mknod is not supported on Windows.
func (d *Dir) Mknod(name string, mode fs.FileMode, major, minor uint32) error {
	return unsupported("mknod", name)
}
