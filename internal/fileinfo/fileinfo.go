//go:build unix

// Package fileinfo turns a stat(2) result into the fs.FileInfo package os
// itself returns, so that code moving from os.Root keeps working: the same
// mode bits, Sys() a *syscall.Stat_t, and os.SameFile accepts it (os.SameFile
// recognises nothing but package os's own type).
//
// The entry points for the rest of racefree are New (a stat result already
// made), Fstat (the object a descriptor refers to) and Lstatat (an entry of
// a directory descriptor, not following a final symlink: what a directory
// listing's Info must be, never a lookup by path).
package fileinfo

import (
	"io/fs"
	"os"
	"reflect"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// New describes st under the given base name, as package os would.
//
// golang.org/x/sys/unix and syscall generate Stat_t from the same C
// structure on every Unix, differing only in field names, so the memory is
// reinterpreted rather than converted field by field.
func New(name string, st *unix.Stat_t) fs.FileInfo {
	sys := (*syscall.Stat_t)(unsafe.Pointer(st))
	mode := Mode(uint32(st.Mode))
	mtime := time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec))
	if l := osLayout(); l != nil {
		return l.new(name, sys, mode, mtime)
	}
	return &info{name: name, st: *sys, mode: mode, mtime: mtime}
}

// Fstat describes the object fd refers to (a symlink itself, for an O_PATH
// descriptor of one) under the given base name.
func Fstat(fd int, name string) (fs.FileInfo, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, err
	}
	return New(name, &st), nil
}

// Lstatat describes the entry name of the directory dirfd, without
// following a final symlink: fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW). It
// is how every listed entry's Info must be made: looking the entry up again
// by its path would describe whatever that path leads to by then (a
// directory swapped for a symlink to /etc, say), not the entry listed.
func Lstatat(dirfd int, name string) (fs.FileInfo, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return nil, err
	}
	return New(name, &st), nil
}

// layout is where package os keeps the fields of its FileInfo, so that New
// can fill one without a second stat: the only public ways to get package
// os's own FileInfo stat by path (never acceptable here) or wrap a
// descriptor in an *os.File first, which costs an fcntl, three allocations
// and half as much time again as the stat itself on every Stat.
//
// It is learned, not assumed: the type is taken from a real os.Lstat, and
// every field is checked by name, type and count, so a toolchain whose
// os.fileStat differs in any way gets a nil layout and New falls back to
// its own type (whose FileInfo os.SameFile then refuses, which
// TestNewIsPackageOSFileInfo reports for that toolchain).
type layout struct {
	typ                            reflect.Type
	name, size, mode, modTime, sys uintptr
}

var osLayout = sync.OnceValue(func() *layout {
	fi, err := os.Lstat("/")
	if err != nil {
		return nil
	}
	t := reflect.TypeOf(fi)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	s := t.Elem()
	fields := []struct {
		name string
		typ  reflect.Type
	}{
		{"name", reflect.TypeFor[string]()},
		{"size", reflect.TypeFor[int64]()},
		{"mode", reflect.TypeFor[fs.FileMode]()},
		{"modTime", reflect.TypeFor[time.Time]()},
		{"sys", reflect.TypeFor[syscall.Stat_t]()},
	}
	if s.NumField() != len(fields) {
		return nil
	}
	off := make([]uintptr, len(fields))
	for i, want := range fields {
		f := s.Field(i)
		if f.Name != want.name || f.Type != want.typ {
			return nil
		}
		off[i] = f.Offset
	}
	return &layout{typ: s, name: off[0], size: off[1], mode: off[2], modTime: off[3], sys: off[4]}
})

// new fills a fresh package os FileInfo as os's own fillFileStatFromSys
// does.
func (l *layout) new(name string, sys *syscall.Stat_t, mode fs.FileMode, mtime time.Time) fs.FileInfo {
	v := reflect.New(l.typ)
	p := v.UnsafePointer()
	*(*string)(unsafe.Add(p, l.name)) = name
	*(*int64)(unsafe.Add(p, l.size)) = sys.Size
	*(*fs.FileMode)(unsafe.Add(p, l.mode)) = mode
	*(*time.Time)(unsafe.Add(p, l.modTime)) = mtime
	*(*syscall.Stat_t)(unsafe.Add(p, l.sys)) = *sys
	return v.Interface().(fs.FileInfo)
}

// info is New's FileInfo on a toolchain whose package os keeps its own in
// a layout New does not know.
type info struct {
	name  string
	st    syscall.Stat_t
	mode  fs.FileMode
	mtime time.Time
}

func (i *info) Name() string       { return i.name }
func (i *info) Size() int64        { return i.st.Size }
func (i *info) Mode() fs.FileMode  { return i.mode }
func (i *info) ModTime() time.Time { return i.mtime }
func (i *info) IsDir() bool        { return i.mode.IsDir() }
func (i *info) Sys() any           { return &i.st }

// Mode converts st_mode to an fs.FileMode as package os does.
func Mode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// Perm converts an fs.FileMode to the bits open(2), mkdir(2) and chmod(2)
// take, keeping setuid, setgid and sticky as package os does.
func Perm(m fs.FileMode) uint32 {
	o := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		o |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		o |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		o |= unix.S_ISVTX
	}
	return o
}

// Sizes must match for the reinterpretation in New to be sound.
var _ = [1]struct{}{}[unsafe.Sizeof(unix.Stat_t{})-unsafe.Sizeof(syscall.Stat_t{})]
