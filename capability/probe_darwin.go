package capability

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

func probe(f Feature) Status {
	switch f {
	case RenameatxNp:
		// Both names missing: a kernel with the call answers ENOENT.
		err := unix.RenameatxNp(unix.AT_FDCWD, "", unix.AT_FDCWD, "", unix.RENAME_SWAP)
		if err == unix.ENOSYS {
			return missing("renameatx_np: %v", err)
		}
		return have("renameatx_np with RENAME_SWAP and RENAME_EXCL")
	case ONofollowAny:
		fd, err := eintr.Retry1(func() (int, error) {
			return unix.Open("/", unix.O_NOFOLLOW_ANY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return missing("open(O_NOFOLLOW_ANY): %v", err)
		}
		unix.Close(fd)
		return have("O_NOFOLLOW_ANY (macOS 11 and later)")
	}
	return missing("not available on macOS")
}
