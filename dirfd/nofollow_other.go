//go:build unix && !linux && !freebsd && !netbsd

package dirfd

import "golang.org/x/sys/unix"

func isNofollowErr(err error) bool { return err == unix.ELOOP || err == unix.ENOTDIR }
