//go:build unix

package fallback

import (
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// Same reports whether two stats describe the same object (device and
// inode). Two names of one hard-linked file are the same object.
func Same(a, b *unix.Stat_t) bool { return a.Dev == b.Dev && a.Ino == b.Ino }

// UnlinkAs removes name in dirfd, which st describes: rmdir for a
// directory, unlink for anything else.
func UnlinkAs(dirfd int, name string, st *unix.Stat_t) error {
	flags := 0
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags = unix.AT_REMOVEDIR
	}
	return eintr.Retry(func() error { return unix.Unlinkat(dirfd, name, flags) })
}

// IfSame is fstatat-compare-act: it calls act only if name in dirfd (not
// followed) refers to want's object, and fails with ErrChanged otherwise.
//
// The window: between the fstatat and act, another user who can write the
// directory can swap the name, and act then works on their object. It is
// the last resort of verified removal and rename (CompareUnlink,
// CompareRename), used only where MoveAside cannot run, and refused in
// Strict mode.
func IfSame(dirfd int, name string, want *unix.Stat_t, act func() error) error {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	if !Same(&st, want) {
		return ErrChanged
	}
	return act()
}
