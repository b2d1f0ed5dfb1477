package opath

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdPath asks the kernel for the descriptor's current path (F_GETPATH).
func fdPath(fd int) (string, error) {
	var buf [unix.PathMax]byte
	_, _, e := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETPATH, uintptr(unsafe.Pointer(&buf[0])))
	if e != 0 {
		return "", e
	}
	return unix.ByteSliceToString(buf[:]), nil
}
