//go:build unix && !darwin

package dirfd

import "golang.org/x/sys/unix"

// fullFsync is fsync(2), which on these systems reaches stable storage.
func fullFsync(fd int) error { return unix.Fsync(fd) }
