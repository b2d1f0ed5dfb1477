package dirstack

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Identify describes the directory fd refers to with one statx(2): device
// and inode, and the mount ID, so that a bind mount of the same filesystem
// (same device) is told apart from the directory it sits in. The unique
// 64-bit mount ID (STATX_MNT_ID_UNIQUE, Linux 6.8) is asked for and used
// where the kernel gives it, the older reusable one (Linux 5.8) otherwise:
// within one descent either kind tells mounts apart. A kernel without
// either (or without statx, before 4.11) leaves Mnt at 0, and only the
// device is compared.
func Identify(fd int) (ID, error) {
	var stx unix.Statx_t
	err := eintr.Retry(func() error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC,
			unix.STATX_TYPE|unix.STATX_INO|unix.STATX_MNT_ID|unix.STATX_MNT_ID_UNIQUE, &stx)
	})
	if err == unix.ENOSYS {
		return identifyByFstat(fd)
	}
	if err != nil {
		return ID{}, err
	}
	id := ID{Dev: unix.Mkdev(stx.Dev_major, stx.Dev_minor), Ino: stx.Ino}
	if stx.Mask&(unix.STATX_MNT_ID|unix.STATX_MNT_ID_UNIQUE) != 0 {
		id.Mnt = stx.Mnt_id
	}
	return id, nil
}
