package dirent

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Reader lists the directory of a descriptor. It does not own the
// descriptor.
//
// macOS has no public getdents: golang.org/x/sys emulates one with a
// descriptor opened without close-on-exec (G4), and package os lstats by
// path where a type is unknown. Names are read here through package os
// from a close-on-exec duplicate, with no type: the caller asks fstatat,
// relative to the descriptor it holds, for any entry whose type it needs.
type Reader struct {
	fd    int
	names []string
	read  bool
}

// NewReader returns a Reader of fd. Call Close when done.
func NewReader(fd int) *Reader { return &Reader{fd: fd} }

// Next returns the next entry, or io.EOF after the last one.
func (r *Reader) Next() (Entry, error) {
	if !r.read {
		r.read = true
		dup, err := unix.FcntlInt(uintptr(r.fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return Entry{}, err
		}
		f := os.NewFile(uintptr(dup), "")
		r.names, err = f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return Entry{}, err
		}
	}
	if len(r.names) == 0 {
		return Entry{}, io.EOF
	}
	e := Entry{Name: r.names[0]}
	r.names = r.names[1:]
	return e, nil
}

// Close releases what the Reader holds; the descriptor is left open.
func (r *Reader) Close() { r.names = nil }
