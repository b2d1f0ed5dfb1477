// Package opath provides Handle: a descriptor that pins one filesystem object
// (file, directory or symlink) without opening it for I/O.
//
// On Linux a Handle is an O_PATH descriptor: it needs no read permission,
// never triggers device or FIFO side effects, and refers to a symlink itself
// when one is opened. Elsewhere it is the nearest equivalent (a read-only
// descriptor opened with O_NOFOLLOW). Everything a Handle does acts on the
// object it was opened on, whatever happens to its name afterwards: that is
// what makes "check, then act" safe (G3 in DESIGN.md).
package opath

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Handle is a descriptor of one filesystem object. It is safe for
// concurrent use; Close while another goroutine uses it makes that use fail
// with os.ErrClosed rather than act on a recycled descriptor number.
type Handle struct {
	// os.File gives us the reference counting that makes Close safe during
	// use, and the finalizer that closes a forgotten descriptor.
	f *os.File
}

// New takes ownership of f, which must have been opened close-on-exec.
func New(f *os.File) *Handle { return &Handle{f: f} }

// Fd returns the descriptor. It stays owned by the Handle.
func (h *Handle) Fd() uintptr { return h.f.Fd() }

// Name returns the name the Handle was opened with. It is a label, not a
// promise: use Path for where the object is now.
func (h *Handle) Name() string { return h.f.Name() }

// Close releases the descriptor.
func (h *Handle) Close() error { return h.f.Close() }

// File returns the Handle's descriptor as an *os.File, for calls that need
// one. The Handle still owns it: do not close it.
func (h *Handle) File() *os.File { return h.f }

// control runs fn with the descriptor held open.
func (h *Handle) control(op string, fn func(fd int) error) error {
	rc, err := h.f.SyscallConn()
	if err != nil {
		return &fs.PathError{Op: op, Path: h.Name(), Err: err}
	}
	var opErr error
	if err := rc.Control(func(fd uintptr) { opErr = fn(int(fd)) }); err != nil {
		// Control fails only once Close has begun; its error is the
		// internal poll.ErrFileClosing, which callers cannot match, so
		// report the documented os.ErrClosed.
		return &fs.PathError{Op: op, Path: h.Name(), Err: os.ErrClosed}
	}
	if opErr != nil {
		return &fs.PathError{Op: op, Path: h.Name(), Err: opErr}
	}
	return nil
}

func (h *Handle) base() string { return filepath.Base(h.Name()) }
