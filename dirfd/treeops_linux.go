package dirfd

import (
	"bytes"
	"io"
	"sync"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/opath"
)

// hardlinksProtected reports whether fs.protected_hardlinks is on. It is
// read once, through filepath-securejoin's hardened procfs: a /proc that
// is overmounted or not procfs (a container could arrange one) must not
// be able to say "on" and switch the hard-link check off. Anything but a
// clear "1" or "2" counts as off, the cautious answer.
var hardlinksProtected = sync.OnceValue(func() bool {
	proc, err := procfs.OpenProcRoot()
	if err != nil {
		return false
	}
	defer proc.Close()
	h, err := proc.OpenRoot("sys/fs/protected_hardlinks")
	if err != nil {
		return false
	}
	defer h.Close()
	// OpenRoot hands back an O_PATH handle, which cannot be read.
	f, err := pathrs.Reopen(h, unix.O_RDONLY|unix.O_CLOEXEC)
	if err != nil {
		return false
	}
	defer f.Close()
	v, err := io.ReadAll(io.LimitReader(f, 16))
	if err != nil {
		return false
	}
	v = bytes.TrimSpace(v)
	return bytes.Equal(v, []byte("1")) || bytes.Equal(v, []byte("2"))
})

// pinFlags opens an object to check and change it: O_PATH, which needs no
// permission on the object and opens a symlink itself; or, in the portable
// profile, a read-only open that fails on a symlink.
func (d *Dir) pinFlags() int {
	if d.sys.opath {
		return unix.O_PATH | unix.O_NOFOLLOW
	}
	return unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY
}

func chownPinned(fd, uid, gid int) error {
	return unix.Fchownat(fd, "", uid, gid, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW)
}

func chmodPinned(fd int, mode uint32) error { return opath.Fchmod(fd, mode) }
