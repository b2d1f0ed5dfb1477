package dirfd

import (
	"errors"

	"golang.org/x/sys/unix"
)

// mknodat is missing here: golang.org/x/sys has no mknodat for macOS, and
// mknod by path would leave the tree's descriptors.
func mknodat(int, string, *unix.Stat_t) error { return errors.ErrUnsupported }
