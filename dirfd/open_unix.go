//go:build unix

package dirfd

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/mountid"
)

// Open opens the directory at path (following symlinks in path itself, as
// os.OpenRoot does) and returns a Dir confined to it.
func Open(path string, opts ...Option) (*Dir, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if err := checkName(path); err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	fd, err := openat(unix.AT_FDCWD, path, baseDirFlags(capability.Has(capability.OPath))|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return finishOpen(path, fd, cfg)
}

// FromFile returns a Dir confined to the directory f refers to. The Dir
// holds its own duplicate of f's descriptor (F_DUPFD_CLOEXEC), so f may be
// closed independently.
func FromFile(f *os.File, opts ...Option) (*Dir, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, &fs.PathError{Op: "dup", Path: f.Name(), Err: err}
	}
	var fd int
	var dupErr error
	if err := rc.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, &fs.PathError{Op: "dup", Path: f.Name(), Err: err}
	}
	if dupErr != nil {
		return nil, &fs.PathError{Op: "fcntl", Path: f.Name(), Err: dupErr}
	}
	return finishOpen(f.Name(), fd, cfg)
}

// finishOpen checks that fd is a directory and wraps it; it owns fd.
func finishOpen(name string, fd int, cfg config) (*Dir, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		closeFd(fd)
		return nil, &fs.PathError{Op: "fstat", Path: name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		closeFd(fd)
		return nil, &fs.PathError{Op: "open", Path: name, Err: unix.ENOTDIR}
	}
	var mnt mountid.ID
	if cfg.noXDev {
		m, err := mountid.Of(fd)
		if err != nil {
			closeFd(fd)
			return nil, &fs.PathError{Op: "statx", Path: name, Err: err}
		}
		mnt = m
	}
	d := newDir(name, fd, uint64(st.Dev), cfg)
	d.sys.mnt = mnt
	return d, nil
}

// OpenDir opens the directory name inside d as a new Dir with the same
// options, as os.Root.OpenRoot does. The new Dir is independent: closing
// either leaves the other open.
func (d *Dir) OpenDir(name string) (*Dir, error) {
	var fd int
	err := d.do(name, func() (err error) {
		fd, err = d.open(name, d.dirOpenFlags(), 0)
		return err
	})
	if err != nil {
		return nil, pathErr("openat", name, err)
	}
	return finishOpen(d.join(name), fd, d.cfg)
}

// open resolves name inside the Dir and opens it with flags (O_CLOEXEC is
// always added). The caller holds a reference on d.ref.
//
// O_CREAT with a name ending in "/" (or through a final symlink whose
// target does) is EISDIR from open(2) before the kernel looks at where the
// name leads; os.Root reports an escape first, and so does Dir, with both
// resolvers.
func (d *Dir) open(name string, flags int, perm uint32) (int, error) {
	fd, err := d.lookup(name, flags, perm)
	if err == unix.EISDIR && flags&unix.O_CREAT != 0 && d.escapes(name) {
		return -1, ErrEscape
	}
	return fd, err
}

// do runs op with d's descriptor held open and name checked.
func (d *Dir) do(name string, op func() error) error {
	if err := checkName(name); err != nil {
		return err
	}
	if err := d.ref.incref(); err != nil {
		return err
	}
	defer d.ref.decref()
	return op()
}

func (d *Dir) dirOpenFlags() int { return baseDirFlags(d.sys.opath) }

// join names an object opened through d, for os.File.Name and errors.
func (d *Dir) join(name string) string { return d.name + "/" + name }
