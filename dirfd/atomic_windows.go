package dirfd

import (
	"errors"
	"io/fs"
	"os"
	"time"
)

// AtomicFile is a file being written in private, to replace a name in one
// step when Commit is called. On Windows none is ever created.
type AtomicFile struct {
	*os.File
}

// CreateAtomic is not supported on Windows.
func (d *Dir) CreateAtomic(name string, perm fs.FileMode) (*AtomicFile, error) {
	return nil, unsupported("open", name)
}

// Commit is not supported on Windows.
func (f *AtomicFile) Commit() error { return errors.ErrUnsupported }

// CommitNoSync is not supported on Windows.
func (f *AtomicFile) CommitNoSync() error { return errors.ErrUnsupported }

// Close is not supported on Windows.
func (f *AtomicFile) Close() error { return errors.ErrUnsupported }

// RemoveStale is not supported on Windows.
func (d *Dir) RemoveStale(olderThan time.Duration) (int, error) {
	return 0, unsupported("RemoveStale", ".")
}
