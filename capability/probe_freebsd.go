package capability

import (
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// sysFunlinkat is funlinkat(2), FreeBSD 13.0 and later.
const sysFunlinkat = 568

func probe(f Feature) Status {
	switch f {
	case Funlinkat:
		// An invalid descriptor with a name that cannot exist: a kernel with
		// the call answers EBADF or ENOENT, one without it ENOSYS.
		name, _ := unix.BytePtrFromString("")
		_, _, e := unix.Syscall6(sysFunlinkat, ^uintptr(0), uintptr(unsafe.Pointer(name)), ^uintptr(0), 0, 0, 0)
		if e == unix.ENOSYS {
			return missing("funlinkat: %v", e)
		}
		return have("funlinkat(2)")
	case OResolveBeneath:
		fd, err := eintr.Retry1(func() (int, error) {
			return unix.Open(".", unix.O_RESOLVE_BENEATH|unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return missing("open(O_RESOLVE_BENEATH): %v", err)
		}
		unix.Close(fd)
		return have("O_RESOLVE_BENEATH")
	}
	return missing("not available on FreeBSD")
}
