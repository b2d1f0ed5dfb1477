//go:build unix

package dirfd

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/mountid"
)

// Bounds on the work one name can cause in the walk: a name may have many
// components or restart from the root many times (each ".." restarts and
// walks the resolved prefix again), but not both, so the work stays linear
// in what the kernel itself would accept. os.Root has the same shape with
// 255 steps; that refuses names openat2 resolves in a moment (51 "d/.." in
// a symlink followed 3 times is 306 steps), and a lookup must not succeed
// or fail depending on which resolver the profile picked. 32768 steps
// bound the work to a few tens of milliseconds.
const (
	maxWalkSteps    = 1 << 15
	maxWalkRestarts = 8
)

// walkOpen resolves name one component at a time from the root descriptor
// and opens the final object with flags. It is the resolver wherever openat2
// is missing.
//
// Why it is safe: every component is opened relative to a descriptor we
// hold, with O_NOFOLLOW, so the kernel never follows a symlink for us and
// never resolves "..". A symlink is read with readlinkat and its target
// spliced into the remaining components; an absolute target restarts from
// the root (InRoot) or is refused (Beneath). ".." removes the last resolved
// component and restarts from the root descriptor: opening ".." from a
// directory an attacker has just moved out of the tree would climb to the
// new, outside parent.
func (d *Dir) walkOpen(name string, flags int, perm uint32) (int, error) {
	return d.walk(name, flags, perm, nil, nil)
}

// walkObject resolves name like walkOpen but, instead of opening the final
// object, calls obj with the directory holding it and its name, after
// following a final symlink (unless flags has O_NOFOLLOW). obj must act with
// AT_SYMLINK_NOFOLLOW: a symlink swapped in after the check is then acted on
// itself, never followed by the kernel. Following inside the walk keeps the
// one limit of maxSymlinks for the whole lookup.
func (d *Dir) walkObject(name string, flags int, obj func(dirfd int, last string) error) error {
	var st unix.Stat_t
	_, err := d.walk(name, flags, 0, obj, &st)
	return err
}

// walkStat resolves name like walkObject and leaves the final object's
// fstatat result in st. The walk stats the final component anyway, to see
// whether it is a symlink to follow, so Stat costs no call more than that.
func (d *Dir) walkStat(name string, flags int, st *unix.Stat_t) error {
	_, err := d.walk(name, flags, 0, func(int, string) error { return nil }, st)
	return err
}

// walk is walkOpen when obj is nil, and otherwise walkObject with st as the
// buffer for the final component's fstatat.
func (d *Dir) walk(name string, flags int, perm uint32, obj func(dirfd int, last string) error, st *unix.Stat_t) (int, error) {
	parts, abs, slash := components(name)
	if abs && d.cfg.mode == modeBeneath {
		return -1, ErrEscape
	}
	if slash {
		if flags&unix.O_CREAT != 0 {
			return -1, unix.EISDIR // as open(2) says for "name/" with O_CREAT
		}
		parts = append(parts, ".")
	}
	if len(parts) == 0 {
		parts = []string{"."}
	}
	follow := flags&unix.O_NOFOLLOW == 0

	root := d.ref.fd
	dirfd := root
	setDir := func(fd int) {
		if dirfd != root {
			closeFd(dirfd)
		}
		dirfd = fd
	}
	defer setDir(root)

	var symlinks, steps, restarts int
	// createSlash records that the final symlink, followed for O_CREAT,
	// has a target ending in "/". open(2) then fails with EISDIR once the
	// target's parent is resolved (as for "name/" with O_CREAT above),
	// whatever the target's last component is. Appending "." as for other
	// slashes would instead report ENOENT (missing) or ENOTDIR (a file).
	createSlash := false
	// splice replaces parts[i] by the components of a symlink's target.
	splice := func(i int, target string) (int, error) {
		symlinks++
		if d.cfg.noSymlinks || symlinks > maxSymlinks {
			return 0, unix.ELOOP
		}
		if target == "" {
			return 0, unix.ENOENT
		}
		tparts, tabs, tslash := components(target)
		if tslash {
			if i == len(parts)-1 && flags&unix.O_CREAT != 0 {
				createSlash = true
			} else {
				tparts = append(tparts, ".")
			}
		}
		rest := parts[i+1:]
		if tabs {
			if d.cfg.mode == modeBeneath {
				return 0, ErrEscape
			}
			parts = append(tparts, rest...)
			setDir(root)
			i = 0
		} else {
			parts = append(append(slices.Clip(parts[:i]), tparts...), rest...)
		}
		if i >= len(parts) {
			parts = append(parts, ".")
		}
		return i, nil
	}

	for i := 0; ; {
		steps++
		if steps > maxWalkSteps && restarts > maxWalkRestarts {
			return -1, unix.ENAMETOOLONG
		}
		part := parts[i]
		if part == ".." {
			// ".." cancels the last real component before it. A "."
			// there stands for a trailing slash (spliced from a target
			// such as "sub/" or "."): it only asked for a directory, and
			// cancelling it instead would apply ".." one level too low
			// (with ls -> sub/, the kernel resolves d/ls/../f to d/f,
			// not d/sub/f).
			j := i - 1
			for j >= 0 && parts[j] == "." {
				j--
			}
			if j < 0 {
				if d.cfg.mode == modeBeneath {
					return -1, ErrEscape
				}
				// InRoot: ".." at the top stays at the top.
				parts = parts[i+1:]
			} else {
				parts = slices.Delete(parts, j, i+1)
				restarts++
			}
			setDir(root)
			i = 0
			if len(parts) == 0 {
				parts = []string{"."}
			}
			continue
		}

		if createSlash && i == len(parts)-1 {
			return -1, unix.EISDIR
		}

		if obj != nil && i == len(parts)-1 {
			if err := eintr.Retry(func() error { return unix.Fstatat(dirfd, part, st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
				return -1, err
			}
			if follow && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				target, err := readlinkat(dirfd, part)
				if err != nil {
					return -1, err
				}
				if i, err = splice(i, target); err != nil {
					return -1, err
				}
				continue
			}
			if d.cfg.noXDev {
				if err := d.sameMount(mountid.At(dirfd, part)); err != nil {
					return -1, err
				}
			}
			return -1, obj(dirfd, part)
		}

		var fd int
		var err error
		if i < len(parts)-1 {
			fd, err = openat(dirfd, part, d.sys.dirFlags, 0)
		} else {
			fd, err = openat(dirfd, part, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
			if err == nil && follow && d.sys.opath && flags&oPath != 0 && flags&unix.O_DIRECTORY == 0 {
				// O_PATH|O_NOFOLLOW opens a symlink itself rather than
				// failing: look at what we got. With O_DIRECTORY a
				// symlink fails with ENOTDIR instead, and is followed
				// below like any other.
				var target string
				target, err = linkTargetOfFd(fd)
				if err == nil {
					closeFd(fd)
					if i, err = splice(i, target); err != nil {
						return -1, err
					}
					continue
				}
				if err != unix.EINVAL {
					closeFd(fd)
					return -1, err
				}
				err = nil
			}
		}
		if err == nil {
			if d.cfg.noXDev && part != "." {
				if err := d.sameMount(mountid.Of(fd)); err != nil {
					closeFd(fd)
					return -1, err
				}
			}
			if i == len(parts)-1 {
				return fd, nil
			}
			setDir(fd)
			i++
			continue
		}
		if i == len(parts)-1 && !follow {
			return -1, err
		}
		target, ok := symlinkAt(dirfd, part, err)
		if !ok {
			return -1, err
		}
		if i, err = splice(i, target); err != nil {
			return -1, err
		}
	}
}

// symlinkAt decides whether an O_NOFOLLOW open that failed with openErr
// failed because the entry is a symlink, and if so returns its target.
// Systems disagree on the errno (ELOOP on Linux and macOS, EMLINK on
// FreeBSD, EFTYPE on NetBSD, ENOTDIR with O_DIRECTORY), so the entry itself
// is asked.
func symlinkAt(dirfd int, name string, openErr error) (string, bool) {
	if !isNofollowErr(openErr) {
		return "", false
	}
	target, err := readlinkat(dirfd, name)
	return target, err == nil
}

// sameMount is NoXDev's check of one component: its mount (id, as
// mountid found it) must be the Dir's own. The mount ID, not st_dev: a
// directory bind-mounted from the same filesystem (a host volume in a
// container's rootfs) has the device of the tree around it, and openat2's
// RESOLVE_NO_XDEV refuses it.
func (d *Dir) sameMount(id mountid.ID, err error) error {
	if err != nil {
		return err
	}
	if id != d.sys.mnt {
		return errCrossesMount
	}
	return nil
}

// openat opens close-on-exec whatever the caller passes (G4): a descriptor
// must never exist for an instant without the flag.
func openat(dirfd int, name string, flags int, perm uint32) (int, error) {
	return eintr.Retry1(func() (int, error) { return unix.Openat(dirfd, name, flags|unix.O_CLOEXEC, perm) })
}

// readlinkat reads a symlink's target whole, however long.
func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := eintr.Retry1(func() (int, error) { return unix.Readlinkat(dirfd, name, buf) })
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// closeFd closes a descriptor. close(2) is never retried: on Linux the
// descriptor is gone even when it reports EINTR, and a retry could close a
// number another goroutine has just been given.
func closeFd(fd int) error { return unix.Close(fd) }
