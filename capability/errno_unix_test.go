//go:build unix

package capability

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnsupportedIsNarrow(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{unix.ENOSYS, true},
		{unix.EINVAL, true},
		{unix.EOPNOTSUPP, true},
		{unix.ENOTSUP, true},
		{&fs.PathError{Op: "renameat2", Path: "x", Err: unix.EINVAL}, true},
		{fmt.Errorf("wrapped: %w", unix.ENOSYS), true},
		// A permission problem, a missing or existing name, a full disk or
		// a race must never switch the library to a fallback.
		{unix.EPERM, false},
		{unix.EACCES, false},
		{unix.ENOENT, false},
		{unix.EEXIST, false},
		{unix.ENOSPC, false},
		{unix.EXDEV, false},
		{unix.EAGAIN, false},
		{unix.EINTR, false},
		{errors.New("invalid argument"), false},
		{nil, false},
	} {
		if got := Unsupported(tc.err); got != tc.want {
			t.Errorf("Unsupported(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
