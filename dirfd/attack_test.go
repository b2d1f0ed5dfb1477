//go:build linux

package dirfd_test

import (
	"errors"
	"syscall"

	"github.com/racefree/racefree/dirfd"
)

// The symlink-exchange and descriptor-leak attacks that lived here are in
// fstests now (exchange-abs, exchange-rel, leak), where they run on every
// filesystem and profile of the matrix. What remains is the error
// classifier the race tests of this package share.

// atkErrClass names the kind of an error a victim got under attack, for
// tallies of refusals.
func atkErrClass(err error) string {
	switch {
	case errors.Is(err, dirfd.ErrEscape):
		return "escape"
	case errors.Is(err, syscall.ENOENT):
		return "ENOENT"
	case errors.Is(err, syscall.EAGAIN):
		return "EAGAIN"
	case errors.Is(err, syscall.EEXIST):
		return "EEXIST"
	case errors.Is(err, syscall.ENOTDIR):
		return "ENOTDIR"
	case errors.Is(err, syscall.ELOOP):
		return "ELOOP"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
