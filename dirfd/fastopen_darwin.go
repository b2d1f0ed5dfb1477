package dirfd

import (
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
)

// fastOpen resolves a name in one call with macOS's O_NOFOLLOW_ANY where it
// fits: in NoSymlinks mode, for a relative name without "..", no symlink
// can be followed and nothing can climb, so the kernel's own walk from the
// root descriptor stays inside.
func (d *Dir) fastOpen(name string, flags int, perm uint32) (int, bool, error) {
	if !d.cfg.noSymlinks || d.cfg.noXDev || strings.HasPrefix(name, "/") || hasDotDot(name) ||
		!capability.Has(capability.ONofollowAny) {
		return -1, false, nil
	}
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(d.ref.fd, name, flags|unix.O_NOFOLLOW_ANY|unix.O_CLOEXEC, perm)
	})
	return fd, true, err
}

func hasDotDot(name string) bool {
	for p := range strings.SplitSeq(name, "/") {
		if p == ".." {
			return true
		}
	}
	return false
}
