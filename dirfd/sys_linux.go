package dirfd

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/mountid"
)

// sysState is what a Dir decided at Open about how to resolve names.
type sysState struct {
	openat2  bool       // resolve with one openat2 call
	resolve  uint64     // RESOLVE_* flags for openat2
	opath    bool       // O_PATH descriptors: objects are acted on through them
	dirFlags int        // how the walk opens intermediate directories
	mnt      mountid.ID // the directory's mount, for NoXDev in the walk
}

func newSysState(cfg config) sysState {
	s := sysState{opath: capability.Has(capability.OPath)}
	// openat2 hands back O_PATH descriptors for directories; without O_PATH
	// the portable profile is in force and the walk is used throughout.
	s.openat2 = s.opath && capability.Has(capability.Openat2)
	s.resolve = unix.RESOLVE_NO_MAGICLINKS
	if cfg.mode == modeInRoot {
		s.resolve |= unix.RESOLVE_IN_ROOT
	} else {
		s.resolve |= unix.RESOLVE_BENEATH
	}
	if cfg.noSymlinks {
		s.resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	if cfg.noXDev {
		s.resolve |= unix.RESOLVE_NO_XDEV
	}
	s.dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if s.opath {
		// O_PATH traverses a directory with search permission alone.
		s.dirFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	return s
}

// oPath is O_PATH where the system has it.
const oPath = unix.O_PATH

// baseDirFlags is how a directory is opened when it is only a base for
// further *at calls.
func baseDirFlags(opath bool) int {
	if opath {
		return unix.O_PATH | unix.O_DIRECTORY
	}
	return unix.O_RDONLY | unix.O_DIRECTORY
}

// maxEAGAIN bounds the retries of an openat2 lookup that raced with a
// rename: the kernel refuses a scoped lookup through ".." with EAGAIN
// whenever any rename anywhere on the system happened meanwhile, rather
// than risk an escape. An attacker renaming in a loop (or merely a busy
// machine) could keep us spinning, so after maxEAGAIN tries the lookup is
// handed to the component walk. That is no downgrade: the walk never opens
// "..", it restarts from the root descriptor, so no rename can lead it out
// (G1); it is only slower.
const maxEAGAIN = 64

// errInRootRace is an InRoot lookup that openat2 refused with EXDEV
// maxEAGAIN times: directories kept being moved out of the root under it.
// It matches both ErrEscape (the kernel's reason) and EXDEV (what was seen).
var errInRootRace = fmt.Errorf("%w: %w, again and again while directories were moved out of the root", ErrEscape, unix.EXDEV)

// lookup is open's resolver: one openat2, or the component walk where
// openat2 is missing.
func (d *Dir) lookup(name string, flags int, perm uint32) (int, error) {
	if !d.sys.openat2 {
		return d.walkOpen(name, flags, perm)
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: d.sys.resolve}
	// O_TMPFILE includes O_DIRECTORY, so it must be tested whole: a mode
	// with a plain O_DIRECTORY open is EINVAL from openat2.
	if flags&unix.O_CREAT != 0 || flags&unix.O_TMPFILE == unix.O_TMPFILE {
		how.Mode = uint64(perm)
	}
	for tries := 1; ; tries++ {
		fd, err := unix.Openat2(d.ref.fd, name, &how)
		switch err {
		case nil:
			return fd, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			if tries < maxEAGAIN {
				continue
			}
			return d.walkOpen(name, flags, perm)
		case unix.EXDEV:
			// RESOLVE_BENEATH/IN_ROOT/NO_XDEV all say "would leave" with
			// EXDEV.
			switch {
			case d.cfg.noXDev:
				return -1, fmt.Errorf("%w (or crosses a mount point)", ErrEscape)
			case d.cfg.mode == modeInRoot:
				// Nothing can leave an InRoot lookup: ".." at the top
				// stays there and absolute targets start there. The
				// kernel says EXDEV when a directory the lookup went
				// through was moved out of the root meanwhile, so that
				// ".." from it cannot be judged: a race, as EAGAIN is,
				// retried within the same bound.
				if tries < maxEAGAIN {
					continue
				}
				return -1, errInRootRace
			}
			return -1, ErrEscape
		}
		return -1, err
	}
}

// linkTargetOfFd reads the target of the symlink an O_PATH descriptor
// refers to; EINVAL means it is not a symlink.
func linkTargetOfFd(fd int) (string, error) {
	buf := make([]byte, maxNameLen)
	n, err := eintr.Retry1(func() (int, error) { return unix.Readlinkat(fd, "", buf) })
	switch {
	case err == unix.ENOENT:
		return "", unix.EINVAL
	case err != nil:
		return "", err
	case n == len(buf):
		return "", unix.ENAMETOOLONG
	}
	return string(buf[:n]), nil
}

func isNofollowErr(err error) bool { return err == unix.ELOOP || err == unix.ENOTDIR }
