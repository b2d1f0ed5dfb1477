package opath

import (
	"errors"
	"io/fs"
	"os"
)

func (h *Handle) unsupported(op string) error {
	return &fs.PathError{Op: op, Path: h.Name(), Err: errors.ErrUnsupported}
}

// Stat is not supported on Windows.
func (h *Handle) Stat() (fs.FileInfo, error) { return nil, h.unsupported("stat") }

// Reopen is not supported on Windows.
func (h *Handle) Reopen(int) (*os.File, error) { return nil, h.unsupported("reopen") }

// Readlink is not supported on Windows.
func (h *Handle) Readlink() (string, error) { return "", h.unsupported("readlink") }

// Chmod is not supported on Windows.
func (h *Handle) Chmod(fs.FileMode) error { return h.unsupported("chmod") }

// Chown is not supported on Windows.
func (h *Handle) Chown(int, int) error { return h.unsupported("chown") }

// Access is not supported on Windows.
func (h *Handle) Access(uint32) error { return h.unsupported("access") }

// Path is not supported on Windows.
func (h *Handle) Path() (string, error) { return "", h.unsupported("path") }
