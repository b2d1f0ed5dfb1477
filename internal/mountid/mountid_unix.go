//go:build unix && !linux

package mountid

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Of returns the ID of the mount the object fd refers to: its device
// number, which is all these systems tell (see the package doc).
func Of(fd int) (ID, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return ID{}, err
	}
	return ID{kindDevice, uint64(st.Dev)}, nil
}

// At returns the ID of the mount the entry name of the directory dirfd is
// on, not following a final symlink: its device number.
func At(dirfd int, name string) (ID, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return ID{}, err
	}
	return ID{kindDevice, uint64(st.Dev)}, nil
}
