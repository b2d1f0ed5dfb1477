package dirfd

import "golang.org/x/sys/unix"

// NetBSD reports O_NOFOLLOW on a symlink as EFTYPE.
func isNofollowErr(err error) bool {
	return err == unix.EFTYPE || err == unix.ELOOP || err == unix.ENOTDIR
}
