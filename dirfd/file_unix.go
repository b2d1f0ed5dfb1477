//go:build unix

package dirfd

import (
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/fileinfo"
)

// Open opens name for reading, as os.Root.Open.
func (d *Dir) Open(name string) (*os.File, error) {
	return d.OpenFile(name, os.O_RDONLY, 0)
}

// Create creates or truncates name, as os.Root.Create.
func (d *Dir) Create(name string) (*os.File, error) {
	return d.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// OpenFile opens name with flag and, when creating, perm (less the umask),
// as os.Root.OpenFile, with one difference: O_NOFOLLOW is honoured for the
// final component (a final symlink fails with ELOOP; os.Root follows it).
// The descriptor is always close-on-exec.
//
// Cost with openat2: one openat2, plus the fcntl os.NewFile makes.
func (d *Dir) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if err := checkName(name); err != nil {
		return nil, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	if err := d.ref.incref(); err != nil {
		return nil, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	fd, err := d.open(name, flag, fileinfo.Perm(perm))
	d.ref.decref()
	if err != nil {
		return nil, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

// ReadFile reads the whole file name, as os.Root.ReadFile.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	f, err := d.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var size int
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = int(fi.Size())
	}
	data := make([]byte, 0, size+512)
	for {
		n, err := f.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return data, err
		}
		if len(data) == cap(data) {
			data = slices.Grow(data, len(data))
		}
	}
}

// ReadDir reads the directory name and returns its entries sorted by name,
// as os.ReadDir.
func (d *Dir) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := d.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}
