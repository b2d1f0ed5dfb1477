//go:build unix

package opath

import (
	"io/fs"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
)

// Stat describes the object itself (a symlink, if the Handle is one).
func (h *Handle) Stat() (fs.FileInfo, error) {
	var st unix.Stat_t
	err := h.control("fstat", func(fd int) error {
		return eintr.Retry(func() error { return unix.Fstat(fd, &st) })
	})
	if err != nil {
		return nil, err
	}
	return fileinfo.New(h.base(), &st), nil
}

// Chown changes the owner of the object itself; a symlink is not followed.
func (h *Handle) Chown(uid, gid int) error {
	return h.control("fchownat", func(fd int) error {
		return eintr.Retry(func() error { return chownFd(fd, uid, gid) })
	})
}
