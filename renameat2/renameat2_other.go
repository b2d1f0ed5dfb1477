//go:build unix && !linux && !darwin

package renameat2

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Rename renames oldname in olddirfd to newname in newdirfd according to
// flags. This system has no rename flags: NoReplace is emulated for
// non-directories (see the package documentation), the others fail with
// errors.ErrUnsupported.
func Rename(olddirfd int, oldname string, newdirfd int, newname string, flags Flags) error {
	if err := flags.check(); err != nil {
		return err
	}
	if flags&^Strict == 0 {
		return eintr.Retry(func() error { return unix.Renameat(olddirfd, oldname, newdirfd, newname) })
	}
	return emulate(olddirfd, oldname, newdirfd, newname, flags)
}
