//go:build unix && !linux

package linkat

import (
	"errors"
	"fmt"
	"runtime"
)

// atEmptyPath is zero: only Linux links a descriptor itself with linkat.
const atEmptyPath = 0

// LinkFd gives a name to the object fd refers to. Only Linux can do that
// for an arbitrary descriptor; elsewhere LinkFd fails with an error
// wrapping errors.ErrUnsupported. (FreeBSD 13 has an AT_EMPTY_PATH for some
// *at calls, but golang.org/x/sys/unix does not define it for FreeBSD, and
// a flag value this package cannot test is not one it should send.)
func LinkFd(fd int, newdirfd int, newname string) error {
	if err := checkName(newname); err != nil {
		return err
	}
	return fmt.Errorf("linkat: giving a descriptor a name (flink) is not available on %s: %w", runtime.GOOS, errors.ErrUnsupported)
}
