//go:build unix

package dirfd

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
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
// The descriptor is always close-on-exec. As os.Root, it refuses a perm
// with bits beyond the nine permission bits (see createPerm).
//
// The file is package os's own *os.File. Its ReadDir describes an entry,
// when Info is called, by an lstat of the entry's path (package os spares
// only files os.Root opened itself): list a directory with d.ReadDir, or
// open it through d.FS(), to have every entry described through the
// descriptor listed.
//
// Cost with openat2: one openat2, plus the fcntl os.NewFile makes.
func (d *Dir) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	mode, err := createPerm(perm)
	if err == nil {
		err = checkName(name)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	if err := d.ref.incref(); err != nil {
		return nil, &fs.PathError{Op: "openat", Path: name, Err: err}
	}
	fd, err := d.open(name, flag, mode)
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
// as os.Root's files do. Every entry's Info is made by fstatat on the
// descriptor that was listed, as the entries are read (one fstatat each):
// looking an entry up again later by its path would describe whatever the
// path leads to by then, such as the same name under /etc once the listed
// directory has been swapped for a symlink there. An entry removed between
// the listing and its fstatat is left out, as package os does.
func (d *Dir) ReadDir(name string) ([]fs.DirEntry, error) {
	f, err := d.OpenFile(name, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := readDir(f, -1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

// errUnsupportedMode is the answer to a creating call given set-ID or
// sticky bits, as os.Root refuses them: they are set with Chmod, on purpose,
// never by a mode passed along from elsewhere.
var errUnsupportedMode = fmt.Errorf("unsupported file mode: %w", fs.ErrInvalid)

// createPerm is the mode bits for open(2) or mkdir(2) of a call that may
// create (OpenFile, Mkdir, MkdirAll, MkdirAllDir): perm, which must hold
// nothing but the nine permission bits.
func createPerm(perm fs.FileMode) (uint32, error) {
	if perm&^fs.ModePerm != 0 {
		return 0, errUnsupportedMode
	}
	return uint32(perm), nil
}
