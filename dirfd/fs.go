package dirfd

import (
	"io/fs"
	"os"
)

// FS returns an io/fs view of the tree under d. It implements fs.StatFS,
// fs.ReadDirFS, fs.ReadFileFS and fs.ReadLinkFS, accepts only names that
// fs.ValidPath accepts, and confines every lookup exactly as d does. Its
// files' ReadDir, like d.ReadDir, describes every entry by fstatat on the
// descriptor listed, never by a path.
func (d *Dir) FS() fs.FS { return dirFS{d} }

type dirFS struct{ d *Dir }

func valid(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

func (f dirFS) Open(name string) (fs.File, error) {
	if err := valid("open", name); err != nil {
		return nil, err
	}
	file, err := f.d.Open(name)
	if err != nil {
		return nil, err
	}
	return fsFile{file}, nil
}

// fsFile is an *os.File whose ReadDir describes entries through its own
// descriptor (see readDir). Every other method is the *os.File's.
type fsFile struct{ *os.File }

func (f fsFile) ReadDir(n int) ([]fs.DirEntry, error) { return readDir(f.File, n) }

func (f dirFS) Stat(name string) (fs.FileInfo, error) {
	if err := valid("stat", name); err != nil {
		return nil, err
	}
	return f.d.Stat(name)
}

func (f dirFS) Lstat(name string) (fs.FileInfo, error) {
	if err := valid("lstat", name); err != nil {
		return nil, err
	}
	return f.d.Lstat(name)
}

func (f dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := valid("readdir", name); err != nil {
		return nil, err
	}
	return f.d.ReadDir(name)
}

func (f dirFS) ReadFile(name string) ([]byte, error) {
	if err := valid("readfile", name); err != nil {
		return nil, err
	}
	return f.d.ReadFile(name)
}

func (f dirFS) ReadLink(name string) (string, error) {
	if err := valid("readlink", name); err != nil {
		return "", err
	}
	return f.d.Readlink(name)
}

// readDir is (*os.File).ReadDir with every entry described by fstatat on
// f's own descriptor, which package os's Readdir does. os.File's ReadDir
// would describe an entry, when asked, by an lstat of f.Name()+"/"+entry:
// a path lookup (os.Root's CVE-2026-27139, which package os avoids only
// for files os.Root opened itself).
func readDir(f *os.File, n int) ([]fs.DirEntry, error) {
	infos, err := f.Readdir(n)
	entries := make([]fs.DirEntry, len(infos))
	for i, fi := range infos {
		entries[i] = fs.FileInfoToDirEntry(fi)
	}
	return entries, err
}
