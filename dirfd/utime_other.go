//go:build unix && !darwin && !netbsd

package dirfd

import "golang.org/x/sys/unix"

const utimeOmit = unix.UTIME_OMIT
