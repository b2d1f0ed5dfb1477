//go:build unix && !linux

package main

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/opath"
)

// sameMount reports whether the object h pins is on the filesystem that
// holds directory d. These systems give no mount ID, so device numbers are
// compared; a null mount (nullfs) of the same filesystem reports a device
// of its own.
func sameMount(d *dirfd.Dir, h *opath.Handle) (bool, error) {
	var a, b unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(int(d.Fd()), &a) }); err != nil {
		return false, err
	}
	if err := eintr.Retry(func() error { return unix.Fstat(int(h.Fd()), &b) }); err != nil {
		return false, err
	}
	return a.Dev == b.Dev, nil
}
