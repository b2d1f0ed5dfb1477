package fstests

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
)

// errNotThisSystem is the trial of a feature another system has.
var errNotThisSystem = fmt.Errorf("not a Linux feature: %w", errors.ErrUnsupported)

// processTrials ask the kernel directly for each feature of the process
// report, in dir, an empty directory of the filesystem under test: each
// returns nil when the kernel does it for this process. They share no code
// with the probe (capability/probe_linux.go), which asks differently where
// it can (openat2 of "/", O_TMPFILE for link_empty_path, a procfs handle for
// link_proc_fd), so that a bug in the probe cannot agree with itself. The
// per-filesystem features are kernelTrials' (conformance_linux.go).
var processTrials = []struct {
	feature capability.Feature
	try     func(dir int) error
}{
	{capability.Openat2, func(dir int) error {
		fd, err := unix.Openat2(dir, ".", &unix.OpenHow{
			Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return err
		}
		return unix.Close(fd)
	}},
	{capability.OPath, func(dir int) error {
		if err := trialFiles(dir, "f"); err != nil {
			return err
		}
		fd, err := unix.Openat(dir, "f", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		// An O_PATH descriptor is not open for I/O: a kernel that ignored
		// the flag would read.
		if _, err := unix.Read(fd, make([]byte, 1)); err != unix.EBADF {
			return fmt.Errorf("read from an O_PATH descriptor: %v, want EBADF: %w", err, errors.ErrUnsupported)
		}
		return nil
	}},
	// A regular file rather than an unnamed one: the filesystem under
	// test may lack O_TMPFILE, and the kernel's rule (the opener's
	// credentials since 6.10, CAP_DAC_READ_SEARCH before) is the same.
	{capability.LinkEmptyPath, func(dir int) error {
		fd, err := trialOpen(dir)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Linkat(fd, "", dir, "linked", unix.AT_EMPTY_PATH)
	}},
	{capability.LinkProcFd, func(dir int) error {
		fd, err := trialOpen(dir)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), dir, "linked", unix.AT_SYMLINK_FOLLOW)
	}},
	{capability.CloseRangeCloexec, func(dir int) error {
		fd, err := trialOpen(dir)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return unix.CloseRange(uint(fd), uint(fd), unix.CLOSE_RANGE_CLOEXEC)
	}},
	{capability.Fchmodat2, func(dir int) error {
		if err := trialFiles(dir, "f"); err != nil {
			return err
		}
		name, _ := unix.BytePtrFromString("f")
		_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(dir), uintptr(unsafe.Pointer(name)), 0o640, unix.AT_SYMLINK_NOFOLLOW, 0, 0)
		if e != 0 {
			return e
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dir, "f", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
		if st.Mode&0o777 != 0o640 {
			return fmt.Errorf("fchmodat2 succeeded, but the mode is %#o: %w", st.Mode&0o777, errors.ErrUnsupported)
		}
		return nil
	}},
	{capability.Funlinkat, func(int) error { return errNotThisSystem }},
	{capability.RenameatxNp, func(int) error { return errNotThisSystem }},
	{capability.OResolveBeneath, func(int) error { return errNotThisSystem }},
	{capability.ONofollowAny, func(int) error { return errNotThisSystem }},
}

// trialOpen creates the file "f" in dir and opens it for reading.
func trialOpen(dir int) (int, error) {
	if err := trialFiles(dir, "f"); err != nil {
		return -1, err
	}
	return unix.Openat(dir, "f", unix.O_RDONLY|unix.O_CLOEXEC, 0)
}
