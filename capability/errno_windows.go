package capability

import "syscall"

func isUnsupportedErrno(e syscall.Errno) bool {
	return e == syscall.EWINDOWS || e == syscall.ENOTSUP
}
