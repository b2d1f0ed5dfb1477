//go:build freebsd || netbsd || openbsd

package dirfd

import "golang.org/x/sys/unix"

// mknodat is mknodat(2); the device number's Go type differs per system.
func mknodat(dirfd int, name string, mode uint32, dev uint64) error {
	return callMknodat(unix.Mknodat, dirfd, name, mode, dev)
}

func callMknodat[D ~int | ~uint64](mknodat func(int, string, uint32, D) error, dirfd int, name string, mode uint32, dev uint64) error {
	return mknodat(dirfd, name, mode, D(dev))
}
