//go:build unix && !linux

package dirfd

import "golang.org/x/sys/unix"

// withObject pins the object name refers to by its directory and name (see
// objectByName): without O_PATH there is no descriptor that refers to any
// object, symlinks included, without opening it.
func (d *Dir) withObject(name string, follow bool, f func(o object) error) error {
	return d.objectByName(name, follow, f)
}

func (o object) at() (int, string, int) { return o.dir, o.name, unix.AT_SYMLINK_NOFOLLOW }

func (o object) chmod(mode uint32) error {
	return unix.Fchmodat(o.dir, o.name, mode, unix.AT_SYMLINK_NOFOLLOW)
}

func (d *Dir) openHandleFlags() int { return unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK }

// statObject stats the object name refers to with the fstatat the walk makes
// of the final component anyway (see walkStat).
func (d *Dir) statObject(name string, follow bool, st *unix.Stat_t) error {
	return d.walkStat(name, nofollowIf(!follow), st)
}
