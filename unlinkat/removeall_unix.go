//go:build unix

package unlinkat

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/dirent"
	"github.com/racefree/racefree/internal/dirstack"
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
	top, err := dirstack.Identify(dirfd)
	if err != nil {
		return err
	}
	r := &remover{dirfd: dirfd, top: top, stack: dirstack.New(maxHeld, errMoved)}
	defer r.closeAll()
	r.descend(dirfd, name, 0)
	for r.stack.Len() > 0 && !r.stopped {
		r.step()
	}
	return r.err
}

// level is what RemoveAll keeps for one directory of the descent, beside
// its descriptor in the stack.
type level struct {
	list   *dirent.Reader // nil until listed, and again once released
	eof    bool           // listed to the end
	failed bool           // listing failed: it cannot be emptied
	kept   map[string]bool
	round  int
}

type remover struct {
	dirfd   int
	top     dirstack.ID // the filesystem and mount RemoveAll stays on
	stack   *dirstack.Stack
	levels  []*level // beside stack's levels, one for one
	err     error
	stopped bool
}

// step handles the next entry of the deepest directory, or leaves it when
// it has been listed to the end.
func (r *remover) step() {
	name, ok := r.next()
	if !ok {
		r.leave()
		return
	}
	fd := r.stack.Fd()
	if err := Unlink(fd, name); err != nil && err != unix.ENOENT {
		// A directory (EISDIR on Linux, EPERM elsewhere), or an entry
		// that cannot be unlinked: descend sorts out which. A directory in
		// a directory we cannot write (EACCES) is still emptied, as
		// os.RemoveAll does.
		r.descend(fd, name, 0)
	}
}

// next returns the next name of the deepest directory not kept back,
// listing it as needed.
func (r *remover) next() (string, bool) {
	l := r.levels[len(r.levels)-1]
	for !l.eof {
		if l.list == nil {
			l.list = dirent.NewReader(r.stack.Fd())
		}
		e, err := l.list.Next()
		switch {
		case err == io.EOF:
			l.eof = true
		case err != nil:
			r.record(r.path(""), "readdirent", err)
			l.failed, l.eof = true, true
		case !l.kept[e.Name]:
			return e.Name, true
		}
	}
	return "", false
}

// descend enters the directory name in parent (the deepest level, or
// dirfd), unless it is gone, not a directory after all, or a mount point.
func (r *remover) descend(parent int, name string, round int) {
	fd, err := eintr.Retry1(func() (int, error) { return unix.Openat(parent, name, dirstack.DirFlags, 0) })
	if err == unix.ENOENT {
		return
	}
	if err != nil {
		r.notEntered(parent, name, round, err)
		return
	}
	id, err := dirstack.Identify(fd)
	if err == nil && !id.SameMount(r.top) {
		err = unix.EXDEV // a mount point: leave it and all in it alone
	}
	if err != nil {
		unix.Close(fd)
		r.keep(name, "RemoveAll", err)
		return
	}
	r.levels = append(r.levels, &level{round: round})
	if released := r.stack.Push(name, fd, id); released != nil {
		// What was listed is dropped with the descriptor: a level that is
		// re-entered is listed again from the start.
		l := r.levels[r.stack.Len()-r.stack.Held()-1]
		l.list.Close()
		l.list, l.eof = nil, false
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
	l := r.levels[len(r.levels)-1]
	r.levels = r.levels[:len(r.levels)-1]
	name := r.stack.Level(r.stack.Len() - 1).Name
	if l.list != nil {
		l.list.Close()
	}
	if _, err := r.stack.Pop(); err != nil {
		r.fail(r.path(name)+"/..", err)
		r.stopped = true
		return
	}
	parentFd := r.dirfd
	if r.stack.Len() > 0 {
		parentFd = r.stack.Fd()
	}
	if l.failed || len(l.kept) > 0 {
		// It holds what could not be removed; the error is recorded.
		r.markKept(name)
		return
	}
	switch err := Rmdir(parentFd, name); {
	case err == nil, err == unix.ENOENT:
	case (err == unix.ENOTEMPTY || err == unix.EEXIST || err == unix.ENOTDIR) && l.round+1 < maxRounds:
		// Refilled while we emptied it, or swapped for a non-directory
		// (ENOTDIR): go round again on whatever the name is now.
		r.descend(parentFd, name, l.round+1)
	default:
		r.keep(name, "unlinkat", err)
	}
}

func (r *remover) closeAll() {
	for _, l := range r.levels {
		if l.list != nil {
			l.list.Close()
		}
	}
	r.stack.Close()
}

// keep records err for the entry name of the deepest directory and leaves
// the entry in place.
func (r *remover) keep(name, op string, err error) {
	r.record(r.path(name), op, err)
	r.markKept(name)
}

func (r *remover) markKept(name string) {
	if len(r.levels) == 0 {
		return
	}
	l := r.levels[len(r.levels)-1]
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
	for i := range r.stack.Len() {
		b.WriteString(r.stack.Level(i).Name)
		b.WriteByte('/')
	}
	b.WriteString(name)
	return strings.TrimSuffix(b.String(), "/")
}
