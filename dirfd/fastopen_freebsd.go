package dirfd

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
)

// fastOpen resolves a name in one call with FreeBSD's O_RESOLVE_BENEATH
// where it gives exactly Beneath's semantics: the kernel refuses absolute
// names, absolute symlinks and any ".." that climbs out (ENOTCAPABLE).
// InRoot, NoSymlinks and NoXDev have no FreeBSD flag and use the walk.
func (d *Dir) fastOpen(name string, flags int, perm uint32) (int, bool, error) {
	if d.cfg.mode != modeBeneath || d.cfg.noSymlinks || d.cfg.noXDev || !capability.Has(capability.OResolveBeneath) {
		return -1, false, nil
	}
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(d.ref.fd, name, flags|unix.O_RESOLVE_BENEATH|unix.O_CLOEXEC, perm)
	})
	if err == unix.ENOTCAPABLE {
		err = ErrEscape
	}
	return fd, true, err
}
