package dirfd

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// copyData copies the data of in (size and allocation in st) to the new,
// empty file out, and returns the bytes copied. A whole-file reflink
// (FICLONE) shares the extents, holes included; else a file whose blocks
// cover less than its size is copied segment by segment between
// SEEK_DATA and SEEK_HOLE, and given its size with ftruncate, so holes stay
// holes; each segment goes through copy_file_range(2). A filesystem that
// refuses FICLONE or copy_file_range is not asked again during this copy.
func (c *copier) copyData(out, in int, st *unix.Stat_t) (int64, error) {
	size := st.Size
	if size == 0 {
		return 0, nil
	}
	if !c.noClone {
		err := eintr.Retry(func() error { return unix.IoctlFileClone(out, in) })
		if err == nil {
			return size, nil
		}
		if !cannotClone(err) {
			return 0, err
		}
		c.noClone = true
	}
	if st.Blocks*512 >= size {
		return c.copyRange(out, in, 0, size)
	}
	var total int64
	for off := int64(0); off < size; {
		data, err := unix.Seek(in, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			break // only a hole is left
		}
		if err != nil {
			return total, err
		}
		hole, err := unix.Seek(in, data, unix.SEEK_HOLE)
		if err != nil {
			return total, err
		}
		n, err := c.copyRange(out, in, data, hole-data)
		total += n
		if err != nil {
			return total, err
		}
		off = hole
	}
	return total, eintr.Retry(func() error { return unix.Ftruncate(out, size) })
}

// cannotClone reports the errnos with which FICLONE says "not here":
// another filesystem, or one without reflinks.
func cannotClone(err error) bool {
	switch err {
	case unix.EOPNOTSUPP, unix.EXDEV, unix.EINVAL, unix.ENOTTY, unix.ENOSYS, unix.EBADF, unix.EPERM:
		return true
	}
	return false
}

// copyRange copies n bytes at off from in to out at the same offset.
func (c *copier) copyRange(out, in int, off, n int64) (int64, error) {
	var done int64
	for !c.noRange && done < n {
		roff, woff := off+done, off+done
		m, err := eintr.Retry1(func() (int, error) {
			return unix.CopyFileRange(in, &roff, out, &woff, int(min(n-done, 1<<30)), 0)
		})
		switch {
		case err == nil && m == 0:
			return done, nil // the file shrank meanwhile
		case err == nil:
			done += int64(m)
			continue
		case done == 0 && (err == unix.EXDEV || err == unix.EINVAL || err == unix.EOPNOTSUPP || err == unix.ENOSYS):
			c.noRange = true
		default:
			return done, err
		}
	}
	m, err := copyReadWrite(out, in, off+done, n-done)
	return done + m, err
}
