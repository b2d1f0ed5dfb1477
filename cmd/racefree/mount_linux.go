package main

import (
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/opath"
	"golang.org/x/sys/unix"
)

// sameMount reports whether the object h pins is on the mount that holds
// directory d. Mount IDs are compared, not device numbers: a bind mount
// of a directory of the same filesystem has the same st_dev as the
// directory it sits in, and only its mount ID tells it apart.
//
// TODO(merge): internal/mountid
func sameMount(d *dirfd.Dir, h *opath.Handle) (bool, error) {
	a, err := mountOf(int(d.Fd()))
	if err != nil {
		return false, err
	}
	b, err := mountOf(int(h.Fd()))
	if err != nil {
		return false, err
	}
	return a == b, nil
}

type mountID struct{ dev, mnt uint64 }

// mountOf asks statx for fd's device and mount ID: the unique 64-bit one
// where the kernel has it (6.8), else the older one (5.8), which is unique
// among the mounts that exist at one moment.
func mountOf(fd int) (mountID, error) {
	var stx unix.Statx_t
	err := eintr.Retry(func() error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC,
			unix.STATX_MNT_ID|unix.STATX_MNT_ID_UNIQUE, &stx)
	})
	if err != nil {
		return mountID{}, err
	}
	id := mountID{dev: unix.Mkdev(stx.Dev_major, stx.Dev_minor)}
	if stx.Mask&(unix.STATX_MNT_ID|unix.STATX_MNT_ID_UNIQUE) != 0 {
		id.mnt = stx.Mnt_id
	}
	return id, nil
}
