//go:build unix && !linux

package dirfd

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/mountid"
)

type sysState struct {
	opath    bool // never: kept so that shared code reads the same on every system
	dirFlags int
	mnt      mountid.ID // the directory's mount, for NoXDev in the walk
}

func newSysState(config) sysState {
	return sysState{dirFlags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC}
}

const oPath = 0

func baseDirFlags(bool) int { return unix.O_RDONLY | unix.O_DIRECTORY }

// lookup is open's resolver: the system's single-call resolver where it
// fits (fastOpen), else the component walk.
func (d *Dir) lookup(name string, flags int, perm uint32) (int, error) {
	if fd, ok, err := d.fastOpen(name, flags, perm); ok {
		return fd, err
	}
	return d.walkOpen(name, flags, perm)
}

func linkTargetOfFd(int) (string, error) { return "", unix.EINVAL }
