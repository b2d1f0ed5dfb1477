//go:build unix

package capability

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// ENOTSUP equals EOPNOTSUPP on Linux and FreeBSD but not everywhere, so it
// is compared separately rather than as a duplicate switch case.
func isUnsupportedErrno(e syscall.Errno) bool {
	return e == unix.ENOSYS || e == unix.EINVAL || e == unix.EOPNOTSUPP || e == unix.ENOTSUP
}
