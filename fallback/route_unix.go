//go:build unix

package fallback

import (
	"errors"
	"os"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// CanMoveAside reports whether TakeAside can take the object that fd
// refers to (st is its fstat) out of its directory and, if the name turns
// out to refer to someone else's object, put that one back without
// replacing anything. If not, why says what is missing.
//
// The decision looks only at our own object and at the filesystem, never at
// what the name refers to now: another user must not be able to steer us
// to a weaker sequence by putting an object of theirs under the name.
//
//   - Non-directories can always be taken aside: a stranger's object is put
//     back with RENAME_NOREPLACE, or with link+unlink from the stage, which
//     is just as exact there (see LinkUnlink). Without a no-replace rename
//     for directories, a stranger's directory found under the name cannot
//     be put back without risking replacing an empty directory that
//     appeared meanwhile: it is kept under a ConflictPrefix name instead
//     (never lost; the *ConflictError says where).
//   - A directory can be put back without replacing an empty directory that
//     has appeared meanwhile only with a kernel no-replace rename
//     (renameat2 RENAME_NOREPLACE on this filesystem, macOS RENAME_EXCL);
//     rename(2) would replace an empty one.
//   - Moving a directory to another parent rewrites its ".." entry, which
//     needs write permission on the directory itself: a directory of ours we
//     cannot write cannot be taken aside (rmdir would not need it).
func CanMoveAside(fd int, st *unix.Stat_t) (ok bool, why string) {
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return true, ""
	}
	if !noReplaceForDirs(fd) {
		return false, "this filesystem has no no-replace rename for directories"
	}
	if !canRewriteDotDot(fd, st) {
		return false, "the directory is not writable, so it cannot be moved to another parent"
	}
	return true, ""
}

// modeAllowsWrite decides write permission from the mode bits, as the
// kernel does without ACLs; root may write anything.
func modeAllowsWrite(st *unix.Stat_t) bool {
	euid := os.Geteuid()
	switch {
	case euid == 0:
		return true
	case int(st.Uid) == euid:
		return st.Mode&0o200 != 0
	case inGroup(int(st.Gid)):
		return st.Mode&0o020 != 0
	}
	return st.Mode&0o002 != 0
}

func inGroup(gid int) bool {
	if os.Getegid() == gid {
		return true
	}
	groups, err := os.Getgroups()
	return err == nil && slices.Contains(groups, gid)
}

// PrivateDir reports whether no other user can add, remove or rename
// entries of the directory dirfd: it is owned by our effective uid and
// grants write permission to neither group nor others (with a POSIX ACL,
// the group bits are the ACL's mask, so no named entry grants write
// either). In such a directory fstatat-compare-act has no window against
// other users, so it may stand in for the move-aside where no private
// directory can be made, on a full filesystem for instance (DESIGN.md S8).
//
// FullAndPrivate is the whole of that rule: err, from TakeAsideIn, says
// that no private directory could be made because the filesystem or the
// quota is full, and dirfd is private.
func FullAndPrivate(dirfd int, err error) bool {
	_, stage := errors.AsType[*StageError](err)
	return stage && (errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)) && PrivateDir(dirfd)
}

// PrivateDir reports whether dirfd is private in that sense.
func PrivateDir(dirfd int) bool {
	var st unix.Stat_t
	if eintr.Retry(func() error { return unix.Fstat(dirfd, &st) }) != nil {
		return false
	}
	return int(st.Uid) == os.Geteuid() && st.Mode&0o022 == 0
}
