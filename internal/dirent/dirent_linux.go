package dirent

import (
	"bytes"
	"unsafe"

	"golang.org/x/sys/unix"
)

// nameOf returns the NUL-terminated name of a linux_dirent64 record.
func nameOf(rec []byte) ([]byte, bool) {
	off := unsafe.Offsetof(unix.Dirent{}.Name)
	if len(rec) <= int(off) {
		return nil, false
	}
	name := rec[off:]
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	return name, true
}

func ino(rec []byte) uint64 {
	var d unix.Dirent
	v, _ := field(rec, unsafe.Offsetof(d.Ino), unsafe.Sizeof(d.Ino))
	return v
}
