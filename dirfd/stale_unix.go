//go:build unix

package dirfd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/unlinkat"
)

// RemoveStale removes the staging directories that operations killed at
// the wrong instant left in d's own directory (the leftovers of G2 and G5),
// and returns how many it removed. It does not look into subdirectories:
// a stage is made in the directory of the name being replaced, so call
// RemoveStale on each directory (OpenDir) in which names are replaced.
//
// A leftover is an entry whose name starts with ".racefree-" (staging
// directories, and the capability probe's ".racefree-probe-" scratch
// directories) and that is a directory on d's filesystem, owned by the
// caller's effective uid, without access for group or others, and whose
// last change (the later of mtime and ctime) is at least olderThan ago.
// Anything else is left alone, and ".racefree-conflict-" entries always
// are: they hold an object that belongs to somebody.
//
// A stage is in use for as long as the operation that made it runs, and
// RemoveStale cannot tell a live stage from a dead one: pass an age longer
// than any operation can take (say, an hour) whenever another process, or
// another goroutine, may be writing through the same directory. 0 removes
// every leftover and is for when nothing else is running.
//
// Each candidate is opened without following symlinks and checked through
// its descriptor, its contents removed through that descriptor (never
// following a symlink, never entering another filesystem), and it is then
// removed by name only while the name still refers to it, so an entry
// swapped in by another user meanwhile is not touched. Errors are joined;
// one leftover that cannot be removed does not stop the others.
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
			if !strings.HasPrefix(name, staging.Prefix) || strings.HasPrefix(name, fallback.ConflictPrefix) {
				continue
			}
			ok, err := removeStale(fd, name, d.dev, olderThan)
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

// removeStale removes the leftover name in dirfd if it is one; ok reports
// that it was removed.
func removeStale(dirfd int, name string, dev uint64, olderThan time.Duration) (ok bool, err error) {
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		if isNofollowErr(err) || err == unix.ENOENT || err == unix.EACCES {
			return false, nil // not a directory, gone, or not ours
		}
		return false, err
	}
	defer closeFd(fd)
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return false, err
	}
	changed := time.Unix(int64(st.Mtim.Sec), int64(st.Mtim.Nsec))
	if c := time.Unix(int64(st.Ctim.Sec), int64(st.Ctim.Nsec)); c.After(changed) {
		changed = c
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 ||
		uint64(st.Dev) != dev || time.Since(changed) < olderThan {
		return false, nil
	}
	if err := emptyDir(fd, name); err != nil {
		return false, err
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

// emptyDir removes everything inside the directory fd.
func emptyDir(fd int, name string) error {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(dup), name)
	defer dir.Close()
	entries, err := dir.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := removeTree(fd, e); err != nil {
			return err
		}
	}
	return nil
}
