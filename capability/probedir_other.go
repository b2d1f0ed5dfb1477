//go:build unix && !linux

package capability

import (
	"fmt"
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// DetailConfirmed is the Detail ProbeDir gives a per-filesystem feature it
// tried successfully on the directory's filesystem.
const DetailConfirmed = "confirmed on this filesystem"

// ProbeDir returns ForDir for the filesystem of the directory dirfd
// refers to. On this system the per-filesystem features are Linux-only, so
// there is nothing to try: it only reads the device number.
func ProbeDir(dirfd int) (Report, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(dirfd, &st) }); err != nil {
		return Probe(), &fs.PathError{Op: "fstat", Path: fmt.Sprintf("fd %d", dirfd), Err: err}
	}
	return ForDir(dirfd), nil
}
