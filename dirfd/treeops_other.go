//go:build unix && !linux

package dirfd

import "golang.org/x/sys/unix"

// hardlinksProtected: these systems let anyone hard-link any file by
// default (FreeBSD's security.bsd.hardlink_check_uid is 0, macOS and the
// other BSDs have no such rule), so the tree operations always check.
var hardlinksProtected = func() bool { return false }

// pinFlags opens an object to check and change it; without O_PATH a
// symlink cannot be opened, and the open fails.
func (d *Dir) pinFlags() int {
	return unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY
}

func chownPinned(fd, uid, gid int) error { return unix.Fchown(fd, uid, gid) }

func chmodPinned(fd int, mode uint32) error { return unix.Fchmod(fd, mode) }
