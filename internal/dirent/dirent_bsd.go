//go:build freebsd || netbsd || openbsd || dragonfly

package dirent

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// nameOf returns the name of a BSD dirent record, whose length is given.
func nameOf(rec []byte) ([]byte, bool) {
	var d unix.Dirent
	n, ok := field(rec, unsafe.Offsetof(d.Namlen), unsafe.Sizeof(d.Namlen))
	off := unsafe.Offsetof(d.Name)
	if !ok || uint64(len(rec)) < uint64(off)+n {
		return nil, false
	}
	return rec[off : off+uintptr(n)], true
}

func ino(rec []byte) uint64 {
	var d unix.Dirent
	v, _ := field(rec, unsafe.Offsetof(d.Fileno), unsafe.Sizeof(d.Fileno))
	return v
}
