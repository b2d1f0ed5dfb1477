//go:build unix

package dirfd

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// copyReadWrite copies n bytes at off from in to out at the same offset
// with pread and pwrite, stopping early if in ends first.
func copyReadWrite(out, in int, off, n int64) (int64, error) {
	buf := make([]byte, min(n, 256<<10))
	var done int64
	for done < n {
		r, err := eintr.Retry1(func() (int, error) { return unix.Pread(in, buf[:min(int64(len(buf)), n-done)], off+done) })
		if err != nil {
			return done, err
		}
		if r == 0 {
			return done, nil
		}
		for w := 0; w < r; {
			m, err := eintr.Retry1(func() (int, error) { return unix.Pwrite(out, buf[w:r], off+done+int64(w)) })
			if err != nil {
				return done, err
			}
			w += m
		}
		done += int64(r)
	}
	return done, nil
}
