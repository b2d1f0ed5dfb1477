package dirfd

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/opath"
)

// withObject pins the object name refers to (following a final symlink when
// follow is set) and hands it to f. With O_PATH the object is a descriptor
// of its own, opened in one resolution, so f cannot be redirected by a swap
// of the name; without it, see objectByName.
func (d *Dir) withObject(name string, follow bool, f func(o object) error) error {
	if !d.sys.opath {
		return d.objectByName(name, follow, f)
	}
	flags := unix.O_PATH
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := d.open(name, flags, 0)
	if err != nil {
		return err
	}
	defer closeFd(fd)
	return f(object{dir: fd})
}

// at returns the *at arguments that designate the object without following
// a symlink.
func (o object) at() (int, string, int) {
	if o.name == "" {
		return o.dir, "", unix.AT_EMPTY_PATH | unix.AT_SYMLINK_NOFOLLOW
	}
	return o.dir, o.name, unix.AT_SYMLINK_NOFOLLOW
}

// chmod changes the object's mode. An O_PATH descriptor cannot be
// fchmod'ed; opath.Fchmod picks fchmodat2 or the hardened procfs route.
// A named object was already followed if it was a symlink, and
// AT_SYMLINK_NOFOLLOW keeps a symlink swapped in meanwhile from redirecting
// the change. Only fchmodat2 (Linux 6.6) takes that flag: before it, the
// name is pinned with O_PATH|O_NOFOLLOW and changed through its
// descriptor, and a symlink pinned so is refused (EOPNOTSUPP), as
// fchmodat2 refuses it.
func (o object) chmod(mode uint32) error {
	if o.name == "" {
		return opath.Fchmod(o.dir, mode)
	}
	if capability.Has(capability.Fchmodat2) {
		return unix.Fchmodat(o.dir, o.name, mode, unix.AT_SYMLINK_NOFOLLOW)
	}
	fd, err := openat(o.dir, o.name, unix.O_PATH|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer closeFd(fd)
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	return opath.Fchmod(fd, mode)
}

func (d *Dir) openHandleFlags() int { return unix.O_PATH | unix.O_NOFOLLOW }

// statObject stats the object name refers to. openat2 pins it in one call;
// the walk stats the final component anyway (see walkStat), and an O_PATH
// open of it there would cost a readlinkat probe and a close on top.
func (d *Dir) statObject(name string, follow bool, st *unix.Stat_t) error {
	if !d.sys.openat2 {
		return d.walkStat(name, nofollowIf(!follow), st)
	}
	return d.withObject(name, follow, func(o object) error {
		dir, n, flags := o.at()
		return eintr.Retry(func() error { return unix.Fstatat(dir, n, st, flags) })
	})
}
