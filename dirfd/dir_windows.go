package dirfd

import (
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/opath"
)

// On Windows racefree builds but offers nothing yet: Open and FromFile fail
// with an error wrapping errors.ErrUnsupported, so no Dir ever exists and
// the methods below are never reached with one.

type sysState struct{}

func newSysState(config) sysState { return sysState{} }

func closeFd(int) error { return errors.ErrUnsupported }

func unsupported(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: errors.ErrUnsupported}
}

// Open is not supported on Windows.
func Open(path string, opts ...Option) (*Dir, error) { return nil, unsupported("open", path) }

// FromFile is not supported on Windows.
func FromFile(f *os.File, opts ...Option) (*Dir, error) { return nil, unsupported("open", f.Name()) }

// OpenDir is not supported on Windows.
func (d *Dir) OpenDir(name string) (*Dir, error) { return nil, unsupported("open", name) }

// Open is not supported on Windows.
func (d *Dir) Open(name string) (*os.File, error) { return nil, unsupported("open", name) }

// Create is not supported on Windows.
func (d *Dir) Create(name string) (*os.File, error) { return nil, unsupported("open", name) }

// OpenFile is not supported on Windows.
func (d *Dir) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return nil, unsupported("open", name)
}

// ReadFile is not supported on Windows.
func (d *Dir) ReadFile(name string) ([]byte, error) { return nil, unsupported("open", name) }

// WriteFile is not supported on Windows.
func (d *Dir) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return unsupported("open", name)
}

// ReadDir is not supported on Windows.
func (d *Dir) ReadDir(name string) ([]fs.DirEntry, error) { return nil, unsupported("open", name) }

// Stat is not supported on Windows.
func (d *Dir) Stat(name string) (fs.FileInfo, error) { return nil, unsupported("stat", name) }

// Lstat is not supported on Windows.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) { return nil, unsupported("lstat", name) }

// Chmod is not supported on Windows.
func (d *Dir) Chmod(name string, mode fs.FileMode) error { return unsupported("chmod", name) }

// Chown is not supported on Windows.
func (d *Dir) Chown(name string, uid, gid int) error { return unsupported("chown", name) }

// Lchown is not supported on Windows.
func (d *Dir) Lchown(name string, uid, gid int) error { return unsupported("lchown", name) }

// Chtimes is not supported on Windows.
func (d *Dir) Chtimes(name string, atime, mtime time.Time) error {
	return unsupported("chtimes", name)
}

// Readlink is not supported on Windows.
func (d *Dir) Readlink(name string) (string, error) { return "", unsupported("readlink", name) }

// OpenHandle is not supported on Windows.
func (d *Dir) OpenHandle(name string) (*opath.Handle, error) { return nil, unsupported("open", name) }

// Mkdir is not supported on Windows.
func (d *Dir) Mkdir(name string, perm fs.FileMode) error { return unsupported("mkdir", name) }

// MkdirAll is not supported on Windows.
func (d *Dir) MkdirAll(name string, perm fs.FileMode) error { return unsupported("mkdir", name) }

// MkdirAllDir is not supported on Windows.
func (d *Dir) MkdirAllDir(name string, perm fs.FileMode) (*Dir, error) {
	return nil, unsupported("mkdir", name)
}

// Remove is not supported on Windows.
func (d *Dir) Remove(name string) error { return unsupported("remove", name) }

// RemoveAll is not supported on Windows.
func (d *Dir) RemoveAll(name string) error { return unsupported("RemoveAll", name) }

// Symlink is not supported on Windows.
func (d *Dir) Symlink(target, newname string) error { return unsupported("symlink", newname) }

// Link is not supported on Windows.
func (d *Dir) Link(oldname, newname string) error { return unsupported("link", newname) }

// Rename is not supported on Windows.
func (d *Dir) Rename(oldname, newname string) error { return unsupported("rename", newname) }

// Capabilities reports nothing available on Windows.
func (d *Dir) Capabilities() capability.Report { return capability.Probe() }

// stageCache is empty: no Dir exists on Windows.
type stageCache struct{}

func (*stageCache) Close() error { return nil }

func (*stageCache) SetHome(int) {}
