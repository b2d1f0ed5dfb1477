//go:build unix

package dirfd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/dirent"
	"github.com/racefree/racefree/internal/dirstack"
	"github.com/racefree/racefree/internal/eintr"
	"github.com/racefree/racefree/internal/fileinfo"
	"github.com/racefree/racefree/opath"
)

// maxWalkHeld bounds the directory descriptors a walk holds, however deep
// the tree (see internal/dirstack); RemoveAll uses the same bound.
const maxWalkHeld = 16

// errWalkMoved stops a walk that, climbing back to a directory it had
// released, found that ".." no longer leads there.
var errWalkMoved = fmt.Errorf("%w: a directory was moved out from under the walk", ErrChanged)

// WalkDir walks the tree at name like fs.WalkDir (lexical order, each
// directory before its contents, fs.SkipDir and fs.SkipAll), but by
// descriptor: every directory is opened from its parent's descriptor with
// O_NOFOLLOW and held while its entries are visited, so no path is ever
// resolved again and nothing an attacker renames can lead the walk
// anywhere else (G1). A symlink is reported and never followed; a
// directory on another mount is reported and not entered unless
// CrossMounts is given.
//
// name is resolved like any name of d (Beneath, InRoot; a name that would
// leave the tree fails with ErrEscape), except that its last component is
// not followed: a symlink there is reported as one, as filepath.WalkDir
// and chown -R -P do. A trailing slash asks for the directory, and follows
// a symlink there as it does everywhere. Entries' types come from the directory listing
// (d_type); nothing is stat'ed unless Info is called or the filesystem
// does not store types.
//
// At most 16 directory descriptors are held however deep the tree; deeper
// than that, the walk re-enters a directory it left through ".." of its
// child and checks that it is the same directory (device, inode, mount).
// If someone moved a directory the walk was in to elsewhere, the walk stops
// with an error matching ErrChanged rather than go on wherever ".." now
// leads. Cost per directory: openat, statx, two getdents (one more per
// 32 KiB of names), close.
func (d *Dir) WalkDir(name string, fn WalkDirFunc, opts ...WalkOption) error {
	err := d.walkTree(name, walkOptions(opts), fn)
	if err == fs.SkipDir || err == fs.SkipAll {
		return nil
	}
	return err
}

// Entry is an entry met by WalkDir. It implements fs.DirEntry, and adds
// Parent and Handle for acting on the entry relative to the directory the
// walk holds. Info, Parent and Handle are for use during the call of the
// WalkDirFunc: afterwards the walk may have closed the directory, and
// they fail with fs.ErrClosed.
type Entry struct {
	name    string
	at      string // the name relative to the parent's descriptor: name, or "." for a top given as "x/.." or "x/"
	typ     fs.FileMode
	known   bool // typ is known (from d_type or a stat)
	statted bool // st holds the entry's fstatat
	st      unix.Stat_t
	info    fs.FileInfo
	lv      *walkLevel
}

// Name is the entry's name in its directory.
func (e *Entry) Name() string { return e.name }

// IsDir reports whether the entry is a directory (not a symlink to one).
func (e *Entry) IsDir() bool { return e.typ.IsDir() }

// Type is the entry's type bits (fs.FileMode.Type).
func (e *Entry) Type() fs.FileMode { return e.typ }

// Info describes the entry itself, a symlink not followed (lstat-like):
// one fstatat relative to the directory the walk holds, made on the first
// call. The object may have changed since it was listed; Info says what
// is there now.
func (e *Entry) Info() (fs.FileInfo, error) {
	if e.info != nil {
		return e.info, nil
	}
	if err := e.stat(); err != nil {
		return nil, &fs.PathError{Op: "fstatat", Path: e.name, Err: err}
	}
	e.info = fileinfo.New(e.name, &e.st) // os.SameFile accepts it
	return e.info, nil
}

// String describes the entry as fs.FormatDirEntry does.
func (e *Entry) String() string { return fs.FormatDirEntry(e) }

// stat fills e.st with fstatat(AT_SYMLINK_NOFOLLOW) on the held parent.
func (e *Entry) stat() error {
	if e.statted {
		return nil
	}
	fd := e.lv.fd()
	if fd < 0 {
		return fs.ErrClosed
	}
	if err := eintr.Retry(func() error { return unix.Fstatat(fd, e.at, &e.st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return err
	}
	e.statted = true
	e.typ, e.known = fileinfo.Mode(uint32(e.st.Mode)).Type(), true
	return nil
}

// Parent returns the directory holding the entry, as a Dir with the walk's
// options. The walk owns it: do not Close it.
func (e *Entry) Parent() *Dir {
	if e.lv.dir == nil {
		fd := e.lv.fd()
		if fd < 0 {
			return closedDir(e.lv.name())
		}
		// The Dir gets a duplicate of its own, so that a Dir kept past
		// the callback fails with fs.ErrClosed instead of acting through
		// a number that the walk has closed and the process reused.
		dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			return closedDir(e.lv.name())
		}
		e.lv.dir = newDir(e.lv.name(), dup, e.lv.dev, e.lv.w.d.cfg)
	}
	return e.lv.dir
}

// closedDir is a Dir every operation of which fails with fs.ErrClosed.
func closedDir(name string) *Dir {
	d := newDir(name, -1, 0, config{})
	d.cleanup.Stop()
	d.ref.close()
	return d
}

// Handle pins the entry itself (a symlink is not followed), opened
// relative to the directory the walk holds. The caller closes it.
func (e *Entry) Handle() (*opath.Handle, error) {
	fd := e.lv.fd()
	if fd < 0 {
		return nil, &fs.PathError{Op: "openat", Path: e.name, Err: fs.ErrClosed}
	}
	h, err := openat(fd, e.at, e.lv.w.d.openHandleFlags(), 0)
	if err != nil {
		return nil, &fs.PathError{Op: "openat", Path: e.name, Err: err}
	}
	return opath.New(os.NewFile(uintptr(h), e.lv.path+"/"+e.name)), nil
}

// walkLevel is a directory whose entries a walk visits: one on the
// stack, or the base, the directory holding the walk's top entry.
type walkLevel struct {
	w       *walker
	path    string // as given to the WalkDirFunc
	e       *Entry // the directory's own entry in the level above
	sl      *dirstack.Level
	isBase  bool
	baseFd  int // the base's descriptor, -1 once closed
	dev     uint64
	entries []dirent.Entry
	next    int
	dir     *Dir // Parent's view, made on first need
}

func (l *walkLevel) fd() int {
	if l.isBase {
		return l.baseFd
	}
	return l.sl.Fd()
}

// name names the level's directory as Dir.Name does.
func (l *walkLevel) name() string {
	if l.isBase && l.path == "" {
		return l.w.d.name
	}
	return l.w.d.join(l.path)
}

// dropDir closes what the level made for Parent: the level is being
// released or left.
func (l *walkLevel) dropDir() {
	if l.dir != nil {
		l.dir.Close()
		l.dir = nil
	}
}

type walker struct {
	d      *Dir
	cfg    walkConfig
	fn     WalkDirFunc
	stack  *dirstack.Stack
	levels []*walkLevel // beside the stack's levels, one for one
	// enter, when set, is told of each directory the walk has opened and
	// listed (the deepest level now) before its entries are visited; an
	// error leaves the directory unvisited and is passed to fn as the
	// directory's error.
	enter func(path string, e *Entry) error
	// leave, when set, is told of each entered directory once its entries
	// have been visited and it has left the stack; an error ends the walk.
	leave func(path string, e *Entry) error
}

// walkTree resolves name and walks it, calling fn as WalkDir documents.
func (d *Dir) walkTree(name string, cfg walkConfig, fn WalkDirFunc) error {
	return (&walker{d: d, cfg: cfg, fn: fn}).run(name)
}

func (w *walker) run(name string) error {
	d := w.d
	if err := checkName(name); err != nil {
		return w.fn(name, nil, &fs.PathError{Op: "lstat", Path: name, Err: err})
	}
	if err := d.ref.incref(); err != nil {
		return w.fn(name, nil, &fs.PathError{Op: "lstat", Path: name, Err: err})
	}
	defer d.ref.decref()

	dir, last := splitLast(name)
	if strings.HasSuffix(last, "/") {
		// "name/" means the directory, as everywhere: a symlink there is
		// followed (inside the tree), and the walk starts in what it
		// leads to.
		dir, last = name, "."
	}
	base := &walkLevel{w: w, path: dir, baseFd: d.ref.fd, dev: d.dev, isBase: true}
	if dir != "" {
		fd, err := d.open(dir, d.dirOpenFlags(), 0)
		if err != nil {
			return w.fn(name, nil, &fs.PathError{Op: "lstat", Path: name, Err: err})
		}
		base.baseFd = fd
		defer closeFd(fd)
	}
	defer func() { base.dropDir(); base.baseFd = -1 }()
	top := &Entry{name: last, at: last, lv: base}
	if err := top.stat(); err != nil {
		return w.fn(name, nil, &fs.PathError{Op: "lstat", Path: name, Err: err})
	}
	if last == "." {
		top.name = path.Base(path.Clean(name))
	}

	w.stack = dirstack.New(maxWalkHeld, errWalkMoved)
	defer w.close()
	if err := w.visit(name, top); err != nil {
		return err
	}
	for w.stack.Len() > 0 {
		l := w.levels[len(w.levels)-1]
		if l.next == len(l.entries) {
			if err := w.pop(); err != nil {
				return err
			}
			continue
		}
		de := l.entries[l.next]
		l.next++
		e := &Entry{name: de.Name, at: de.Name, typ: de.Type, known: de.Known, lv: l}
		if err := w.visit(path.Join(l.path, de.Name), e); err == fs.SkipDir {
			// fn skipped a non-directory: skip the rest of its
			// directory, as fs.WalkDir does.
			l.next = len(l.entries)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// visit calls fn for e and, for a directory it did not skip, enters it,
// so that the loop in run visits its entries next. It returns fs.SkipDir
// only when fn returned it for a non-directory.
func (w *walker) visit(p string, e *Entry) error {
	if !e.known {
		// No d_type: ask the held parent, never a path.
		if err := e.stat(); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // gone since it was listed: fs.WalkDir skips it too
			}
			return w.fn(p, e, &fs.PathError{Op: "fstatat", Path: p, Err: err})
		}
	}
	err := w.fn(p, e, nil)
	switch {
	case err == fs.SkipDir && e.IsDir():
		return nil
	case err != nil:
		return err
	case !e.IsDir():
		return nil
	}
	if err := w.push(p, e); err != nil && err != fs.SkipDir {
		return err
	}
	return nil
}

// push opens the directory e from its parent's descriptor, lists it, and
// makes it the deepest level. A failure is passed to fn as fs.WalkDir
// passes a ReadDir error, and fn's answer is returned.
func (w *walker) push(p string, e *Entry) error {
	fd, err := openat(e.lv.fd(), e.at, dirstack.DirFlags, 0)
	if err != nil {
		return w.fn(p, e, &fs.PathError{Op: "openat", Path: p, Err: err})
	}
	id, err := dirstack.Identify(fd)
	if err != nil {
		closeFd(fd)
		return w.fn(p, e, &fs.PathError{Op: "statx", Path: p, Err: err})
	}
	if n := w.stack.Len(); n > 0 && (!w.cfg.crossMounts || w.d.cfg.noXDev) && !id.SameMount(w.stack.Level(n-1).ID) {
		// Another filesystem or mount: reported, not entered, and never
		// under a NoXDev Dir. (The top directory is entered wherever it
		// is: the caller named it, and resolving it checked NoXDev.)
		closeFd(fd)
		return nil
	}
	entries, readErr := dirent.ReadAll(fd, nil)
	slices.SortFunc(entries, func(a, b dirent.Entry) int { return strings.Compare(a.Name, b.Name) })
	if released := w.stack.Push(e.at, fd, id); released != nil {
		// The released level keeps its listing: when the walk comes back
		// to it, it goes on where it was.
		w.levels[w.stack.Len()-w.stack.Held()-1].dropDir()
	}
	l := &walkLevel{w: w, path: p, e: e, sl: w.stack.Level(w.stack.Len() - 1), dev: id.Dev, entries: entries}
	w.levels = append(w.levels, l)
	if readErr != nil {
		if err := w.fn(p, e, &fs.PathError{Op: "readdirent", Path: p, Err: readErr}); err != nil {
			return w.unpush(err)
		}
	}
	if w.enter != nil {
		if err := w.enter(p, e); err != nil {
			return w.unpush(w.fn(p, e, err))
		}
	}
	return nil
}

// unpush takes back the level push just made, without telling leave, and
// returns err, or the error that stops the walk if the level above cannot
// be re-entered.
func (w *walker) unpush(err error) error {
	l := w.levels[len(w.levels)-1]
	w.levels = w.levels[:len(w.levels)-1]
	l.dropDir()
	if _, perr := w.stack.Pop(); perr != nil {
		return &fs.PathError{Op: "openat", Path: l.path + "/..", Err: perr}
	}
	return err
}

// pop leaves the deepest level, re-entering the one above if it had been
// released, and tells leave.
func (w *walker) pop() error {
	l := w.levels[len(w.levels)-1]
	w.levels = w.levels[:len(w.levels)-1]
	l.dropDir()
	if _, err := w.stack.Pop(); err != nil {
		return &fs.PathError{Op: "openat", Path: l.path + "/..", Err: err}
	}
	if w.leave != nil {
		return w.leave(l.path, l.e)
	}
	return nil
}

func (w *walker) close() {
	for _, l := range w.levels {
		l.dropDir()
	}
	w.levels = nil
	w.stack.Close()
}
