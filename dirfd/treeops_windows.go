package dirfd

import (
	"errors"
	"io/fs"
)

// ErrHardLinked is matched by the error ChownTree and ChmodTree report for
// a hard-linked file they left unchanged; on Windows they do nothing.
var ErrHardLinked = errors.New("left unchanged: a regular file with several hard links")

// ChownTree is not supported on Windows.
func (d *Dir) ChownTree(name string, uid, gid int, opts ...WalkOption) error {
	return unsupported("chown", name)
}

// ChmodTree is not supported on Windows.
func (d *Dir) ChmodTree(name string, mode func(path string, info fs.FileInfo) fs.FileMode, opts ...WalkOption) error {
	return unsupported("chmod", name)
}

// CopyTree is not supported on Windows.
func CopyTree(dst *Dir, dstName string, src *Dir, srcName string, opts ...CopyOption) error {
	return unsupported("copy", srcName)
}
