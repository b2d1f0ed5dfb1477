package fstests

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
)

// unnamedStaging reports whether, by the report, CreateAtomic stages its
// file unnamed (O_TMPFILE, linked into the stage at Commit).
func unnamedStaging(r capability.Report) bool {
	return r.Has(capability.OTmpfile) && (r.Has(capability.LinkEmptyPath) || r.Has(capability.LinkProcFd))
}

// kernelTrials ask the kernel directly for each per-filesystem feature, in
// an empty directory of the filesystem: the truth the report must tell.
var kernelTrials = []struct {
	feature capability.Feature
	try     func(dir int) error
}{
	// An unnamed file is only of use once it can be given a name: some
	// FUSE servers open one and then refuse to link it (EXDEV), which is
	// the filesystem lacking the feature, as the report must say.
	{capability.OTmpfile, func(dir int) error {
		fd, err := unix.Openat(dir, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		err = unix.Linkat(fd, "", dir, "t", unix.AT_EMPTY_PATH)
		if err == unix.ENOENT { // AT_EMPTY_PATH is not ours to use: the same request through procfs
			err = unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), dir, "t", unix.AT_SYMLINK_FOLLOW)
		}
		if err == unix.EXDEV {
			return fmt.Errorf("linking the unnamed file: %v: %w", err, unix.EOPNOTSUPP)
		}
		return err
	}},
	{capability.RenameNoReplace, func(dir int) error {
		if err := trialFiles(dir, "a", "b"); err != nil {
			return err
		}
		if err := unix.Renameat2(dir, "a", dir, "b", unix.RENAME_NOREPLACE); err != unix.EEXIST {
			if capability.Unsupported(err) {
				return err
			}
			return fmt.Errorf("RENAME_NOREPLACE onto an existing name: %v, want EEXIST", err)
		}
		return unix.Renameat2(dir, "a", dir, "c", unix.RENAME_NOREPLACE)
	}},
	{capability.RenameExchange, func(dir int) error {
		if err := trialFiles(dir, "a", "b"); err != nil {
			return err
		}
		return unix.Renameat2(dir, "a", dir, "b", unix.RENAME_EXCHANGE)
	}},
	{capability.RenameWhiteout, func(dir int) error {
		if err := trialFiles(dir, "a"); err != nil {
			return err
		}
		return unix.Renameat2(dir, "a", dir, "b", unix.RENAME_WHITEOUT)
	}},
}

// trialFiles creates empty files in dir; a trial's own directory holds
// nothing else.
func trialFiles(dir int, names ...string) error {
	for _, n := range names {
		fd, err := unix.Openat(dir, n, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		unix.Close(fd)
	}
	return nil
}
