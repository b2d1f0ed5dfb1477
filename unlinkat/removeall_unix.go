//go:build unix

package unlinkat

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/eintr"
)

const (
	// maxHeld bounds the directory descriptors RemoveAll holds at once
	// (one more for a moment while it opens the next), however deep the
	// tree: the deepest maxHeld levels are kept open, and a level above
	// them is re-entered through ".." from its child when the walk comes
	// back up, and verified.
	maxHeld = 16
	// maxRounds bounds how often a directory that keeps being refilled
	// while we empty it is entered again before RemoveAll leaves it with
	// ENOTEMPTY.
	maxRounds = 8
	// batch is how many names are read from a directory at a time.
	batch = 256
	// dirFlags opens every directory RemoveAll enters: never through a
	// symlink, never anything but a directory.
	dirFlags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
)

// errMoved stops RemoveAll when a directory it had left, to be re-entered
// through "..", is no longer the parent of the one it is in.
var errMoved = fmt.Errorf("%w: a directory was moved while RemoveAll was inside it", fallback.ErrChanged)

// RemoveAll removes name in dirfd and, if it is a directory, everything
// below it, with the semantics of os.RemoveAll: a missing name is not an
// error, and an entry that cannot be removed does not stop the others (the
// first error is returned, as a *fs.PathError naming the entry relative to
// dirfd). name must be a single entry (fallback.CheckName).
//
// What holds whatever another user does to the tree meanwhile:
//
//   - Nothing outside the tree is removed (G1). Every directory is entered
//     with openat(O_NOFOLLOW|O_DIRECTORY) from its parent's descriptor, and
//     every entry is unlinked through the descriptor of the directory that
//     was listed, so a directory swapped for a symlink is unlinked as a
//     symlink, never followed.
//   - At most 16 directory descriptors are held (17 for a moment), however
//     deep the tree. Deeper than that, the levels above are closed and
//     re-entered on the way back up by opening ".." from the child, and
//     the directory reached must be the one that was left (device, inode
//     and, on Linux, mount ID). If it is not (someone moved the directory
//     we were in elsewhere), RemoveAll stops at once with an error wrapping
//     fallback.ErrChanged, rather than carry on wherever ".." now leads.
//   - A mount point inside the tree is never crossed: a directory on
//     another device or, on Linux, with another mount ID (so a bind mount
//     of the same filesystem counts) is left alone with everything in it,
//     with EXDEV; a file mount point is refused by the kernel with EBUSY.
//     Everything else is still removed, as rm -r does, and the directories
//     holding the mount point remain. A tmp cleaner that meets a mount
//     should go on cleaning around it and not empty somebody's filesystem.
//   - A directory that keeps being refilled (or swapped) while it is
//     emptied is entered again at most 8 times, then left with ENOTEMPTY.
//
// Removing entries an attacker moves into the tree while it runs, or a
// directory it moves out of the tree after we entered it, is allowed by
// G1's definition: those objects were inside the tree at some instant.
func RemoveAll(dirfd int, name string) error {
	if err := fallback.CheckName(name); err != nil {
		return err
	}
	if err := Unlink(dirfd, name); err == nil || err == unix.ENOENT {
		return nil
	}
	top, err := identify(dirfd)
	if err != nil {
		return err
	}
	r := &remover{dirfd: dirfd, top: top}
	defer r.closeAll()
	r.descend(dirfd, name, 0)
	for len(r.stack) > 0 && !r.stopped {
		r.step()
	}
	return r.err
}

// dirID identifies a directory; mnt is 0 where the system has no mount ID.
type dirID struct{ dev, ino, mnt uint64 }

func identifyByFstat(fd int) (dirID, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return dirID{}, err
	}
	return dirID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// level is one directory on the way down.
type level struct {
	name   string // its name in the level above (or in dirfd)
	id     dirID
	f      *os.File // nil while released
	fd     int      // f's descriptor
	names  []string // listed and not handled yet
	eof    bool     // listed to the end
	failed bool     // listing failed: it cannot be emptied
	kept   map[string]bool
	round  int
}

type remover struct {
	dirfd   int
	top     dirID // the filesystem and mount RemoveAll stays on
	stack   []*level
	held    int // levels with f != nil: always the deepest ones
	err     error
	stopped bool
}

// step handles the next entry of the deepest directory, or leaves it when
// it has been listed to the end.
func (r *remover) step() {
	cur := r.stack[len(r.stack)-1]
	name, ok := r.next(cur)
	if !ok {
		r.leave()
		return
	}
	if err := Unlink(cur.fd, name); err != nil && err != unix.ENOENT {
		// A directory (EISDIR on Linux, EPERM elsewhere), or an entry
		// that cannot be unlinked: descend sorts out which. A directory in
		// a directory we cannot write (EACCES) is still emptied, as
		// os.RemoveAll does.
		r.descend(cur.fd, name, 0)
	}
}

// next returns the next name in l not kept back, listing more as needed.
func (r *remover) next(l *level) (string, bool) {
	for {
		for len(l.names) > 0 {
			n := l.names[0]
			l.names = l.names[1:]
			if !l.kept[n] {
				return n, true
			}
		}
		if l.eof {
			return "", false
		}
		names, err := l.f.Readdirnames(batch)
		switch {
		case len(names) > 0:
			// Fewer than asked for means the end was reached: asking
			// again would cost one more getdents to hear so.
			l.eof = len(names) < batch
		case err == io.EOF || err == nil:
			l.eof = true
		default:
			r.record(r.path(l.name), "readdirent", err)
			l.failed, l.eof = true, true
		}
		l.names = names
	}
}

// descend enters the directory name in parent (the deepest level, or
// dirfd), unless it is gone, not a directory after all, or a mount point.
func (r *remover) descend(parent int, name string, round int) {
	fd, err := eintr.Retry1(func() (int, error) { return unix.Openat(parent, name, dirFlags, 0) })
	if err == unix.ENOENT {
		return
	}
	if err != nil {
		r.notEntered(parent, name, round, err)
		return
	}
	id, err := identify(fd)
	if err == nil && (id.dev != r.top.dev || id.mnt != r.top.mnt) {
		err = unix.EXDEV // a mount point: leave it and all in it alone
	}
	if err != nil {
		unix.Close(fd)
		r.keep(name, "RemoveAll", err)
		return
	}
	r.stack = append(r.stack, &level{name: name, id: id, f: os.NewFile(uintptr(fd), name), fd: fd, round: round})
	if r.held++; r.held > maxHeld {
		r.release(r.stack[len(r.stack)-r.held])
	}
}

// notEntered settles an entry that unlink refused and that could not be
// opened as a directory. It asks fstatat what the entry is now, rather
// than reading the open's errno (the platforms answer O_NOFOLLOW on a
// symlink differently: ELOOP, EMLINK, EFTYPE): a non-directory is
// unlinked; a directory, or a non-directory that unlink says is a
// directory after all, has changed under us (someone is swapping it), so
// it is tried again, at most maxRounds times in all.
func (r *remover) notEntered(parent int, name string, round int, openErr error) {
	var st unix.Stat_t
	err := eintr.Retry(func() error { return unix.Fstatat(parent, name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	op := "openat"
	switch {
	case err == unix.ENOENT:
		return
	case err != nil:
		r.keep(name, "fstatat", err)
		return
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		err = openErr
	default:
		op, err = "unlinkat", Unlink(parent, name)
		if err == nil || err == unix.ENOENT {
			return
		}
		if err != unix.EISDIR && err != unix.EPERM {
			r.keep(name, op, err)
			return
		}
	}
	if round+1 < maxRounds {
		r.descend(parent, name, round+1)
		return
	}
	r.keep(name, op, err)
}

// leave is called when the deepest directory has been listed to the end:
// it removes it from its parent, or marks it kept there.
func (r *remover) leave() {
	l := r.stack[len(r.stack)-1]
	r.stack = r.stack[:len(r.stack)-1]
	parentFd := r.dirfd
	if len(r.stack) > 0 {
		parent := r.stack[len(r.stack)-1]
		if parent.f == nil && !r.reopen(parent, l) {
			r.release(l)
			r.stopped = true
			return
		}
		parentFd = parent.fd
	}
	r.release(l)
	if l.failed || len(l.kept) > 0 {
		// It holds what could not be removed; the error is recorded.
		r.markKept(l.name)
		return
	}
	switch err := Rmdir(parentFd, l.name); {
	case err == nil, err == unix.ENOENT:
	case (err == unix.ENOTEMPTY || err == unix.EEXIST || err == unix.ENOTDIR) && l.round+1 < maxRounds:
		// Refilled while we emptied it, or swapped for a non-directory
		// (ENOTDIR): go round again on whatever the name is now.
		r.descend(parentFd, l.name, l.round+1)
	default:
		r.keep(l.name, "unlinkat", err)
	}
}

// reopen re-enters the released parent through ".." of child, which must
// lead to the very directory that was left.
func (r *remover) reopen(parent, child *level) bool {
	path := r.path(child.name) + "/.."
	fd, err := eintr.Retry1(func() (int, error) { return unix.Openat(child.fd, "..", dirFlags, 0) })
	if err != nil {
		r.fail(path, err)
		return false
	}
	id, err := identify(fd)
	if err == nil && id != parent.id {
		err = errMoved
	}
	if err != nil {
		unix.Close(fd)
		r.fail(path, err)
		return false
	}
	parent.f, parent.fd = os.NewFile(uintptr(fd), parent.name), fd
	r.held++
	return true
}

// release closes l's descriptor. What was listed is dropped with it: a
// level that is re-entered is listed again from the start.
func (r *remover) release(l *level) {
	if l.f == nil {
		return
	}
	l.f.Close()
	l.f, l.fd = nil, -1
	l.names, l.eof = nil, false
	r.held--
}

func (r *remover) closeAll() {
	for _, l := range r.stack {
		r.release(l)
	}
}

// keep records err for the entry name of the deepest directory and leaves
// the entry in place.
func (r *remover) keep(name, op string, err error) {
	r.record(r.path(name), op, err)
	r.markKept(name)
}

func (r *remover) markKept(name string) {
	if len(r.stack) == 0 {
		return
	}
	l := r.stack[len(r.stack)-1]
	if l.kept == nil {
		l.kept = map[string]bool{}
	}
	l.kept[name] = true
}

// record keeps the first error, as os.RemoveAll reports it.
func (r *remover) record(path, op string, err error) {
	if r.err == nil {
		r.err = &fs.PathError{Op: op, Path: path, Err: err}
	}
}

// fail records the error that stops RemoveAll; an earlier error is kept
// beside it.
func (r *remover) fail(path string, err error) {
	r.err = errors.Join(&fs.PathError{Op: "openat", Path: path, Err: err}, r.err)
}

// path names the entry name of the deepest directory relative to dirfd.
func (r *remover) path(name string) string {
	var b strings.Builder
	for _, l := range r.stack {
		b.WriteString(l.name)
		b.WriteByte('/')
	}
	b.WriteString(name)
	return b.String()
}
