package dirfd

import "golang.org/x/sys/unix"

// fullFsync asks the drive to write its cache too: on macOS fsync(2) only
// hands the data to the drive (see fcntl(2), F_FULLFSYNC). Filesystems
// without it get fsync, as os.File.Sync does.
func fullFsync(fd int) error {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_FULLFSYNC, 0); err != unix.ENOTSUP && err != unix.ENOTTY {
		return err
	}
	return unix.Fsync(fd)
}
