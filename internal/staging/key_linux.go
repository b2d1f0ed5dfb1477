package staging

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// keyOf identifies the directory fd with one statx: device, inode and
// mount (STATX_MNT_ID, Linux 5.8; 0 before, where a bind mount of the
// same directory would share a key and a rename between the two would fail
// with EXDEV rather than do anything else).
func keyOf(fd int) (parentKey, error) {
	var stx unix.Statx_t
	err := eintr.Retry(func() error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_INO|unix.STATX_MNT_ID, &stx)
	})
	if err == unix.ENOSYS || err == unix.EPERM {
		// No statx (before Linux 4.11, or refused by a seccomp filter).
		var st unix.Stat_t
		if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
			return parentKey{}, err
		}
		return parentKey{dev: st.Dev, ino: st.Ino}, nil
	}
	if err != nil {
		return parentKey{}, err
	}
	k := parentKey{dev: unix.Mkdev(stx.Dev_major, stx.Dev_minor), ino: stx.Ino}
	if stx.Mask&unix.STATX_MNT_ID != 0 {
		k.mnt = stx.Mnt_id
	}
	return k, nil
}

// fstatBorn is fstat(2) of fd into st, and its birth time where the
// filesystem records one (STATX_BTIME), else the zero time. Two calls,
// once per private directory made.
func fstatBorn(fd int, st *unix.Stat_t) (time.Time, error) {
	if err := eintr.Retry(func() error { return unix.Fstat(fd, st) }); err != nil {
		return time.Time{}, err
	}
	var stx unix.Statx_t
	err := eintr.Retry(func() error {
		return unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BTIME, &stx)
	})
	if err != nil || stx.Mask&unix.STATX_BTIME == 0 {
		return time.Time{}, nil // no statx, or no birth times here
	}
	return time.Unix(stx.Btime.Sec, int64(stx.Btime.Nsec)), nil
}
