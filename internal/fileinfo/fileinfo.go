//go:build unix

// Package fileinfo turns a stat(2) result into an fs.FileInfo that looks
// like the one package os returns: same mode bits, and Sys() is a
// *syscall.Stat_t, so code moving from os.Root keeps working.
package fileinfo

import (
	"io/fs"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// info holds the stat result by value, as package os does, so a FileInfo
// is one allocation and the caller's buffer can stay on its stack.
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

// New describes st under the given base name.
//
// golang.org/x/sys/unix and syscall generate Stat_t from the same C
// structure on every Unix, differing only in field names, so the memory is
// reinterpreted rather than converted field by field.
func New(name string, st *unix.Stat_t) fs.FileInfo {
	return &info{
		name:  name,
		st:    *(*syscall.Stat_t)(unsafe.Pointer(st)),
		mode:  Mode(uint32(st.Mode)),
		mtime: time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec)),
	}
}

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

// Same reports whether two results of New describe the same object. Use it
// where os.SameFile would be used: os.SameFile only recognises package os's
// own FileInfo.
func Same(a, b fs.FileInfo) bool {
	sa, ok1 := a.Sys().(*syscall.Stat_t)
	sb, ok2 := b.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// Sizes must match for the reinterpretation in New to be sound.
var _ = [1]struct{}{}[unsafe.Sizeof(unix.Stat_t{})-unsafe.Sizeof(syscall.Stat_t{})]
