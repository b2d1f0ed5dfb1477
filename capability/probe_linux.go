package capability

import (
	"os"
	"unsafe"

	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

func probe(f Feature) Status {
	switch f {
	case Openat2:
		return probeOpenat2()
	case OPath:
		fd, err := eintr.Retry1(func() (int, error) {
			return unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return missing("open(O_PATH): %v", err)
		}
		unix.Close(fd)
		return have("O_PATH descriptors")
	case OTmpfile:
		return probeTmpfile()
	case LinkEmptyPath:
		return probeLinkEmptyPath()
	case LinkProcFd:
		proc, err := procfs.OpenProcRoot()
		if err != nil {
			return missing("no usable procfs: %v", err)
		}
		proc.Close()
		return have("through filepath-securejoin's hardened procfs")
	case RenameNoReplace:
		return probeRenameFlag(unix.RENAME_NOREPLACE)
	case RenameExchange:
		return probeRenameFlag(unix.RENAME_EXCHANGE)
	case RenameWhiteout:
		return probeRenameFlag(unix.RENAME_WHITEOUT)
	case CloseRangeCloexec:
		// A range above any descriptor we could hold: the call changes
		// nothing, but the kernel validates the flag.
		const far = 1 << 30
		if err := unix.CloseRange(far, far, unix.CLOSE_RANGE_CLOEXEC); err != nil {
			return missing("close_range(CLOSE_RANGE_CLOEXEC): %v", err)
		}
		return have("close_range(CLOSE_RANGE_CLOEXEC)")
	case Fchmodat2:
		// With an invalid descriptor and AT_EMPTY_PATH, a kernel that has
		// the call answers EBADF without touching anything.
		empty, _ := unix.BytePtrFromString("")
		_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, ^uintptr(0), uintptr(unsafe.Pointer(empty)), 0, unix.AT_EMPTY_PATH, 0, 0)
		if e == unix.EBADF {
			return have("fchmodat2(AT_EMPTY_PATH)")
		}
		return missing("fchmodat2: %v", e)
	case Funlinkat:
		return missing("FreeBSD only")
	case RenameatxNp:
		return missing("macOS only")
	case OResolveBeneath:
		return missing("FreeBSD only (Linux uses openat2)")
	case ONofollowAny:
		return missing("macOS only (Linux uses openat2)")
	}
	return missing("unknown feature")
}

func probeOpenat2() Status {
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat2(unix.AT_FDCWD, "/", &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS,
		})
	})
	if err != nil {
		// ENOSYS: kernel before 5.6; EPERM/ENOSYS: a seccomp filter.
		return missing("openat2: %v", err)
	}
	unix.Close(fd)
	return have("openat2 with RESOLVE_BENEATH/IN_ROOT/NO_SYMLINKS/NO_XDEV/NO_MAGICLINKS")
}

func probeTmpfile() Status {
	dir := os.TempDir()
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		// EISDIR: a kernel older than 3.11 reads O_TMPFILE as O_DIRECTORY.
		return missing("O_TMPFILE in %s: %v", dir, err)
	}
	unix.Close(fd)
	return have("kernel has O_TMPFILE; each filesystem is confirmed on first use")
}

// probeLinkEmptyPath links an unnamed file into a private scratch directory:
// whether AT_EMPTY_PATH works depends on the kernel (6.10 relaxed it) and on
// this process's credentials (CAP_DAC_READ_SEARCH before that), so only a
// real attempt tells.
func probeLinkEmptyPath() Status {
	dir, err := os.MkdirTemp("", ".racefree-probe-")
	if err != nil {
		return missing("no scratch directory: %v", err)
	}
	defer os.RemoveAll(dir)
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return missing("needs an O_TMPFILE to test: %v", err)
	}
	defer unix.Close(fd)
	err = eintr.Retry(func() error {
		return unix.Linkat(fd, "", unix.AT_FDCWD, dir+"/l", unix.AT_EMPTY_PATH)
	})
	if err != nil {
		return missing("linkat(AT_EMPTY_PATH): %v", err)
	}
	return have("linkat(AT_EMPTY_PATH) for this process's credentials")
}

// probeRenameFlag asks the kernel about a rename flag without touching any
// file: flags the kernel does not know fail with EINVAL before the lookup,
// known ones reach the lookup of "" and fail with ENOENT. Whether a given
// filesystem honours the flag is learned on that filesystem.
func probeRenameFlag(flag uint) Status {
	err := unix.Renameat2(unix.AT_FDCWD, "", unix.AT_FDCWD, "", flag)
	switch err {
	case unix.ENOENT:
		return have("kernel has renameat2 with this flag; each filesystem is confirmed on first use")
	case unix.EPERM:
		return missing("renameat2: %v (needs CAP_MKNOD here)", err)
	}
	return missing("renameat2: %v", err)
}
