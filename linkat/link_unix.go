//go:build unix

package linkat

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// checkName refuses names that the kernel would read differently from Go:
// an empty name (which, with AT_EMPTY_PATH, means the descriptor itself)
// and a NUL byte (which would cut the name short).
func checkName(name string) error {
	if name == "" || strings.IndexByte(name, 0) >= 0 {
		return unix.EINVAL
	}
	return nil
}

// Link is linkat(2): it makes newname in newdirfd a hard link to oldname in
// olddirfd, retried on EINTR. An empty oldname is accepted only with
// AT_EMPTY_PATH in flags (Linux); any other empty name, or a name holding a
// NUL byte, fails with EINVAL before the kernel is asked. flags are passed
// through: without AT_SYMLINK_FOLLOW a final symlink in oldname is linked
// itself. Use LinkFd to link an object by descriptor whatever the kernel
// allows.
func Link(olddirfd int, oldname string, newdirfd int, newname string, flags int) error {
	if oldname != "" || flags&atEmptyPath == 0 {
		if err := checkName(oldname); err != nil {
			return err
		}
	}
	if err := checkName(newname); err != nil {
		return err
	}
	return eintr.Retry(func() error { return unix.Linkat(olddirfd, oldname, newdirfd, newname, flags) })
}

// Symlink is symlinkat(2): it creates name in dirfd as a symlink to target,
// retried on EINTR. An empty target or name, or one holding a NUL byte,
// fails with EINVAL before the kernel is asked.
func Symlink(target string, dirfd int, name string) error {
	if err := checkName(target); err != nil {
		return err
	}
	if err := checkName(name); err != nil {
		return err
	}
	return eintr.Retry(func() error { return unix.Symlinkat(target, dirfd, name) })
}
