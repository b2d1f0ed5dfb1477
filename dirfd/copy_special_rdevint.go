//go:build linux || netbsd || openbsd

package dirfd

import "golang.org/x/sys/unix"

// mknodat makes a FIFO, socket or device like the one st describes.
func mknodat(dir int, name string, st *unix.Stat_t) error {
	return unix.Mknodat(dir, name, uint32(st.Mode), int(st.Rdev))
}
