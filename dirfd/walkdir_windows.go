package dirfd

import (
	"io/fs"

	"github.com/racefree/racefree/opath"
)

// WalkDir is not supported on Windows.
func (d *Dir) WalkDir(name string, fn WalkDirFunc, opts ...WalkOption) error {
	return unsupported("walk", name)
}

// Entry is an entry met by WalkDir; on Windows there are none.
type Entry struct{}

// Name is not supported on Windows.
func (e *Entry) Name() string { return "" }

// IsDir is not supported on Windows.
func (e *Entry) IsDir() bool { return false }

// Type is not supported on Windows.
func (e *Entry) Type() fs.FileMode { return 0 }

// Info is not supported on Windows.
func (e *Entry) Info() (fs.FileInfo, error) { return nil, unsupported("stat", "") }

// Parent is not supported on Windows.
func (e *Entry) Parent() *Dir { return nil }

// Handle is not supported on Windows.
func (e *Entry) Handle() (*opath.Handle, error) { return nil, unsupported("open", "") }
