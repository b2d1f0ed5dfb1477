package dirfd

import "golang.org/x/sys/unix"

// FreeBSD reports O_NOFOLLOW on a symlink as EMLINK.
func isNofollowErr(err error) bool {
	return err == unix.EMLINK || err == unix.ELOOP || err == unix.ENOTDIR
}
