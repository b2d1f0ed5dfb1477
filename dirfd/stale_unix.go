//go:build unix

package dirfd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/unlinkat"
)

// RemoveStale cleans up the private directories that operations killed at
// the wrong instant left in d's own directory (the leftovers of G2, G3 and
// G5), and returns how many it removed. It does not look into
// subdirectories: a private directory is made in the directory of the name
// being replaced or removed, so call RemoveStale on each directory
// (OpenDir) in which names are replaced or removed.
//
// A candidate is an entry whose name is ".racefree-", ".racefree-aside-"
// or ".racefree-probe-" followed by 32 hex digits, that is a directory on
// d's filesystem, owned by the caller's effective uid, without access for
// group or others, not in use by this process (a Dir keeps its stages
// until Close), and whose last change (the later of mtime and ctime) is at
// least olderThan ago. What is done with one (DESIGN.md S4):
//
//   - A stage (".racefree-") or a probe's scratch directory is removed
//     only when everything in it carries a name racefree gives its own
//     objects there ("file-", "link-" or "tree-" and two numbers, or the
//     probe's names): half-written files, staged links, half-built or
//     replaced trees. An entry with any other name means the directory is
//     not racefree's (another user who can write d's directory may have
//     renamed one of the caller's own private directories to a stage's
//     name), and it is left exactly as it is.
//   - A move-aside place (".racefree-aside-") holds objects that were
//     taken out of d's directory to be examined and were never put back:
//     somebody's data. Each "object-" entry is moved back into d's
//     directory under a fresh, visible fallback.ConflictPrefix name (never
//     replacing anything) for its owner to find; nothing in it is ever
//     removed. The place is removed once it is empty.
//
// A private directory is in use for as long as the operation that made it
// runs, or, for a stage, as long as the Dir that made it is open; those of
// this process are recognised, those of other processes are not: pass an
// age longer than any operation can take (say, an hour) whenever another
// process may be writing through the same directory. 0 cleans up every
// leftover and is for when nothing else is running.
//
// Each candidate is opened without following symlinks and checked through
// its descriptor, what it holds is removed or moved through that
// descriptor, and the candidate is then removed by name only while the
// name still refers to it. Errors are joined; one leftover that cannot be
// dealt with does not stop the others.
func (d *Dir) RemoveStale(olderThan time.Duration) (removed int, err error) {
	err = d.do(".", func() error {
		fd, err := openat(d.ref.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		dir := os.NewFile(uintptr(fd), d.name)
		defer dir.Close()
		names, err := dir.Readdirnames(-1)
		if err != nil {
			return err
		}
		var errs []error
		for _, name := range names {
			kind, ok := staging.KindOf(name)
			if !ok {
				continue
			}
			ok, err := removeStale(fd, name, kind, d.dev, olderThan)
			if err != nil {
				errs = append(errs, &fs.PathError{Op: "RemoveStale", Path: name, Err: err})
			}
			if ok {
				removed++
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return removed, pathErr("RemoveStale", d.name, err)
	}
	return removed, nil
}

// removeStale deals with the candidate name, a directory of kind, in
// dirfd; ok reports that it was removed.
func removeStale(dirfd int, name string, kind staging.Kind, dev uint64, olderThan time.Duration) (ok bool, err error) {
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		if isNofollowErr(err) || err == unix.ENOENT || err == unix.EACCES || err == unix.ENOTDIR {
			return false, nil // not a directory, gone, or not ours
		}
		return false, err
	}
	dir := os.NewFile(uintptr(fd), name)
	defer dir.Close()
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return false, err
	}
	changed := time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec))
	if c := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)); c.After(changed) {
		changed = c
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 ||
		uint64(st.Dev) != dev || time.Since(changed) < olderThan || staging.Live(uint64(st.Dev), uint64(st.Ino)) {
		return false, nil
	}
	entries, err := dir.Readdirnames(-1)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		if !kind.OwnName(e) {
			return false, nil // not a leftover of racefree's: left exactly as it is
		}
	}
	for _, e := range entries {
		if kind == staging.Aside {
			_, err = fallback.Keep(noReplaceRename, fd, e, dirfd)
		} else {
			err = removeTree(fd, e)
		}
		if err != nil {
			return false, err
		}
	}
	// Remove the name only while it still refers to the directory we
	// emptied: another user may have renamed ours away and put theirs here.
	var now unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstatat(dirfd, name, &now, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return false, err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino {
		return false, fmt.Errorf("replaced while being removed: %w", ErrChanged)
	}
	if err := unlinkat.Rmdir(dirfd, name); err != nil {
		return false, err
	}
	return true, nil
}
