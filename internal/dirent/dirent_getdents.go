//go:build linux || freebsd || netbsd || openbsd || dragonfly

package dirent

import (
	"io"
	"io/fs"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

const (
	dtREG  = unix.DT_REG
	dtDIR  = unix.DT_DIR
	dtLNK  = unix.DT_LNK
	dtFIFO = unix.DT_FIFO
	dtSOCK = unix.DT_SOCK
	dtCHR  = unix.DT_CHR
	dtBLK  = unix.DT_BLK
)

// bufSize is how much one getdents call may return: 32 KiB holds about a
// thousand entries of ordinary names, so a large directory costs a
// quarter of the calls of package os's 8 KiB.
const bufSize = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Reader lists the directory of a descriptor from its current offset. It
// does not own the descriptor.
type Reader struct {
	fd       int
	buf      *[]byte
	pos, end int
	eof      bool
}

// NewReader returns a Reader of fd. Call Close to give back its buffer.
func NewReader(fd int) *Reader { return &Reader{fd: fd} }

// Next returns the next entry, skipping "." and "..", or io.EOF after the
// last one.
func (r *Reader) Next() (Entry, error) {
	for {
		if r.pos < r.end {
			e, size, ok := parse((*r.buf)[r.pos:r.end])
			if size <= 0 {
				// A record the kernel would never write: stop rather than
				// loop on it.
				r.pos, r.eof = r.end, true
				return Entry{}, io.ErrUnexpectedEOF
			}
			r.pos += size
			if ok && e.Name != "." && e.Name != ".." {
				return e, nil
			}
			continue
		}
		if r.eof {
			return Entry{}, io.EOF
		}
		if r.buf == nil {
			r.buf = bufPool.Get().(*[]byte)
		}
		n, err := eintr.Retry1(func() (int, error) { return unix.Getdents(r.fd, *r.buf) })
		if err != nil {
			return Entry{}, err
		}
		r.pos, r.end = 0, n
		r.eof = n == 0
	}
}

// Close returns the Reader's buffer; the descriptor is left open.
func (r *Reader) Close() {
	if r.buf != nil {
		bufPool.Put(r.buf)
		r.buf = nil
	}
}

// parse decodes the record at the start of buf (its layout is
// unix.Dirent's) and returns its size; ok is false for a record with
// no name (a deleted slot some systems leave, with inode 0).
func parse(buf []byte) (e Entry, size int, ok bool) {
	var d unix.Dirent
	reclen, ok1 := field(buf, unsafe.Offsetof(d.Reclen), unsafe.Sizeof(d.Reclen))
	if !ok1 || reclen == 0 || reclen > uint64(len(buf)) {
		return Entry{}, 0, false
	}
	rec := buf[:reclen]
	name, ok := nameOf(rec)
	if !ok || len(name) == 0 || ino(rec) == 0 {
		return Entry{}, int(reclen), false
	}
	dt, _ := field(rec, unsafe.Offsetof(d.Type), unsafe.Sizeof(d.Type))
	e.Name = string(name)
	e.Type, e.Known = typeOf(uint8(dt))
	return e, int(reclen), true
}

// field reads the little- or big-endian (native) unsigned integer of the
// given size at off in buf.
func field(buf []byte, off, size uintptr) (uint64, bool) {
	if len(buf) < int(off+size) {
		return 0, false
	}
	p := unsafe.Pointer(&buf[off])
	switch size {
	case 1:
		return uint64(*(*uint8)(p)), true
	case 2:
		return uint64(*(*uint16)(p)), true
	case 4:
		return uint64(*(*uint32)(p)), true
	case 8:
		return uint64(*(*uint64)(p)), true
	}
	return 0, false
}

// typeOf turns a d_type value into fs.FileMode type bits; ok is false for
// DT_UNKNOWN and anything unexpected (a BSD whiteout).
func typeOf(dt uint8) (fs.FileMode, bool) {
	switch dt {
	case dtREG:
		return 0, true
	case dtDIR:
		return fs.ModeDir, true
	case dtLNK:
		return fs.ModeSymlink, true
	case dtFIFO:
		return fs.ModeNamedPipe, true
	case dtSOCK:
		return fs.ModeSocket, true
	case dtCHR:
		return fs.ModeDevice | fs.ModeCharDevice, true
	case dtBLK:
		return fs.ModeDevice, true
	}
	return 0, false
}
