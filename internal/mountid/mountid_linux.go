package mountid

import (
	"bufio"
	"errors"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Of returns the ID of the mount the object fd refers to (a symlink itself,
// for an O_PATH descriptor of one): one statx(2), or, on kernels older than
// 5.8, a read of /proc/self/fdinfo reached through filepath-securejoin's
// hardened procfs (a /proc an attacker mounted over cannot lie to it).
func Of(fd int) (ID, error) {
	return at(fd, "", unix.AT_EMPTY_PATH)
}

// At returns the ID of the mount the entry name of the directory dirfd is
// on, not following a final symlink. An entry that is a mount point is on
// the mount over it, as a lookup of it would reach.
func At(dirfd int, name string) (ID, error) {
	return at(dirfd, name, 0)
}

func at(dirfd int, name string, flags int) (ID, error) {
	var stx unix.Statx_t
	err := eintr.Retry(func() error {
		return unix.Statx(dirfd, name, flags|unix.AT_SYMLINK_NOFOLLOW|unix.AT_STATX_DONT_SYNC,
			unix.STATX_MNT_ID|unix.STATX_MNT_ID_UNIQUE, &stx)
	})
	switch {
	case err == unix.ENOSYS || err == unix.EPERM:
		// No statx (before 4.11), or a seccomp filter that refuses it.
	case err != nil:
		return ID{}, err
	case stx.Mask&unix.STATX_MNT_ID_UNIQUE != 0:
		return ID{kindUnique, stx.Mnt_id}, nil
	case stx.Mask&unix.STATX_MNT_ID != 0:
		return ID{kindMount, stx.Mnt_id}, nil
	}
	if flags&unix.AT_EMPTY_PATH != 0 {
		return fromFdinfo(dirfd)
	}
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return ID{}, err
	}
	defer unix.Close(fd)
	return fromFdinfo(fd)
}

// errNoMntID is a /proc/self/fdinfo entry without a mnt_id line, which
// every kernel since 3.15 writes.
var errNoMntID = errors.New("mountid: no mnt_id in /proc/self/fdinfo")

// fromFdinfo reads fd's mount ID from the mnt_id line of its fdinfo.
func fromFdinfo(fd int) (ID, error) {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return ID{}, err
	}
	defer proc.Close()
	h, err := proc.OpenSelf("fdinfo/" + strconv.Itoa(fd))
	if err != nil {
		return ID{}, err
	}
	defer h.Close()
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return ID{}, err
	}
	defer f.Close()
	return parseFdinfo(bufio.NewScanner(f))
}

func parseFdinfo(s *bufio.Scanner) (ID, error) {
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "mnt_id:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return ID{}, err
			}
			return ID{kindMount, n}, nil
		}
	}
	if err := s.Err(); err != nil {
		return ID{}, err
	}
	return ID{}, errNoMntID
}
