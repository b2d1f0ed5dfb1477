package unlinkat

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
)

// sysFunlinkat is funlinkat(2), FreeBSD 13.0 and later. golang.org/x/sys/unix
// has no SYS_FUNLINKAT; 568 is its number in FreeBSD's
// sys/kern/syscalls.master.
const sysFunlinkat = 568

// funlinkat unlinks (or, for a directory, removes) name in dirfd only if it
// refers to fd's object; the kernel says EDEADLK when it does not.
func funlinkat(dirfd int, name string, fd int, want *unix.Stat_t) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	flags := 0
	if want.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags = unix.AT_REMOVEDIR
	}
	err = eintr.Retry(func() error {
		_, _, e := unix.Syscall6(sysFunlinkat, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(fd), uintptr(flags), 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
	if err == unix.EDEADLK {
		return fallback.ErrChanged
	}
	return err
}
