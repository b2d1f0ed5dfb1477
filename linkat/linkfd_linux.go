package linkat

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/opath"
)

// atEmptyPath is the flag with which linkat links its descriptor itself.
const atEmptyPath = unix.AT_EMPTY_PATH

// LinkFd gives a name to the object fd refers to ("flink"): newname in
// newdirfd becomes a hard link to it, whatever has happened to the object's
// own names since fd was opened. fd may be an O_PATH descriptor (of a file
// or of a symlink, which is linked itself), an O_TMPFILE file (unless it
// was opened with O_EXCL), or any other open file.
//
// Two routes, chosen by the capability report:
//
//   - linkat(fd, "", newdirfd, newname, AT_EMPTY_PATH) (link_empty_path):
//     one system call. The kernel allows it to a caller with
//     CAP_DAC_READ_SEARCH and, since Linux 6.10, to a caller whose
//     credentials are the very ones fd was opened with.
//   - linkat of /proc/thread-self/fd/N with AT_SYMLINK_FOLLOW (link_proc_fd),
//     reached through filepath-securejoin's hardened procfs, which refuses
//     a fake or overmounted /proc (see opath.ViaProcFd).
//
// Both routes link exactly the object of fd (the magic link resolves to the
// open file, not to a path), and both go through the same checks in the
// kernel's link code: a directory cannot be linked (EPERM), an object whose
// last name is gone cannot be given a new one (ENOENT) unless it is an
// O_TMPFILE, fs.protected_hardlinks applies, the link must stay on one
// filesystem (EXDEV). The procfs route is therefore no weaker than
// AT_EMPTY_PATH, and Strict callers may use it.
//
// When AT_EMPTY_PATH fails with ENOENT although the report has it, the
// procfs route is tried for that call: the kernel answers ENOENT, not
// EPERM, when fd was opened under other credentials than the caller's now
// (fd received from another process; a setuid since the probe; or, after
// syscall.Setuid, a descriptor opened on another OS thread, whose
// credentials the kernel keeps apart). This fallback is not a downgrade an
// attacker can trigger for gain: what an attacker can do to make the call
// fail with ENOENT (remove the object's last name, remove newname's parent)
// makes the procfs route fail the same way, and when the procfs route
// succeeds it has linked the same object with the same checks. Nothing is
// learned from the failure, so one failing call never changes the route of
// later ones. EPERM is not retried: its causes (a directory, protected
// hardlinks, an immutable file, a seccomp filter) apply to both routes.
//
// Without either route the error wraps errors.ErrUnsupported. Other errors
// are the kernel's errno; newname empty or holding a NUL byte is EINVAL.
func LinkFd(fd int, newdirfd int, newname string) error {
	if err := checkName(newname); err != nil {
		return err
	}
	procFd := capability.Has(capability.LinkProcFd)
	if capability.Has(capability.LinkEmptyPath) {
		err := eintr.Retry(func() error { return unix.Linkat(fd, "", newdirfd, newname, unix.AT_EMPTY_PATH) })
		if err != unix.ENOENT || !procFd {
			return err
		}
	}
	if procFd {
		return opath.ViaProcFd(fd, func(dir int, name string) error {
			return unix.Linkat(dir, name, newdirfd, newname, unix.AT_SYMLINK_FOLLOW)
		})
	}
	return fmt.Errorf("linkat: cannot link a descriptor: neither %s nor %s is available: %w",
		capability.LinkEmptyPath, capability.LinkProcFd, errors.ErrUnsupported)
}
