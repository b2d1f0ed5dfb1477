//go:build unix && !linux

package staging

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// keyOf identifies the directory fd by device and inode; these systems
// have no mount identifier, and a rename between two mounts of one
// directory fails with EXDEV rather than do anything else.
func keyOf(fd int) (parentKey, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return parentKey{}, err
	}
	return parentKey{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// fstatBorn is fstat(2) of fd into st. Birth times are not read here: the
// emptiness check alone keeps the victim's data safe (see verify).
func fstatBorn(fd int, st *unix.Stat_t) (time.Time, error) {
	return time.Time{}, eintr.Retry(func() error { return unix.Fstat(fd, st) })
}
