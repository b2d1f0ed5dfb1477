package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/mountid"
	"github.com/racefree/racefree/opath"
)

func runRm(e *env, args []string) error {
	flags := newFlags("rm")
	var recursive, force bool
	flags.BoolVar(&recursive, "r", false, "remove directories and everything below them, never following a symlink or entering another mount")
	flags.BoolVar(&recursive, "R", false, "same as -r")
	flags.BoolVar(&recursive, "recursive", false, "same as -r")
	flags.BoolVar(&force, "f", false, "ignore missing files (rm never prompts)")
	flags.BoolVar(&force, "force", false, "same as -f")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) == 0 {
		if force {
			return nil // as rm -f: nothing to do is not an error
		}
		return usagef("missing PATH")
	}
	s, err := rf.open(operands)
	if err != nil {
		return err
	}
	defer s.Close()
	failed := false
	for _, arg := range operands {
		err := removeEntry(s, parseEntry(arg), recursive)
		if err == nil || force && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		e.report(rmError(arg, err))
		failed = true
	}
	if failed {
		return errReported
	}
	return nil
}

// errRefused is the error for "/", "." and "..", which rm refuses to remove
// whatever the flags (as coreutils does).
var errRefused = errors.New(`refusing to remove "/", "." or ".."`)

// errIsDir is the error for a directory without -r.
var errIsDir = errors.New("is a directory (-r removes it and everything below it)")

// errMountPoint refuses to empty a mounted filesystem, as Dir.RemoveAll
// refuses below the top.
var errMountPoint = errors.New("is a mount point; rm -r does not enter other mounts")

// removeEntry removes the object en names, examined through a handle: the
// type check and the removal concern the same object, and a name that
// meanwhile refers to another object is left alone (dirfd.ErrChanged).
func removeEntry(s *scope, en entry, recursive bool) error {
	if !en.isEntry() {
		return errRefused
	}
	d, err := s.parent(en)
	if err != nil {
		return err
	}
	defer d.Close()
	h, err := d.OpenHandle(en.name)
	if err != nil {
		return err
	}
	defer h.Close()
	fi, err := h.Stat()
	if err != nil {
		return err
	}
	switch {
	case en.slash && !fi.IsDir():
		return syscall.ENOTDIR
	case fi.IsDir() && !recursive:
		return errIsDir
	case fi.IsDir():
		return removeTree(d, en.name, h)
	}
	return d.RemoveIfSame(en.name, h)
}

// removeTree empties the directory h pins, then removes it if name still
// refers to it. The tree is entered through h itself, not by name, so the
// directory emptied is the one examined, and only if it is on the same
// mount as d: a mounted filesystem (or a bind mount of this one) given as
// the operand is somebody's data, not a tree to empty. Below it,
// Dir.RemoveAll opens every directory without following symlinks from its
// parent's descriptor, so a directory swapped for a symlink meanwhile is
// removed as the link, never followed, and leaves other mounts alone.
//
// An entry that cannot be removed (an immutable file, a mount point) does
// not stop the others, as with coreutils' rm -r: everything else is
// removed, the directories holding it stay, and the first such error is
// returned at the end. Entries added while it runs make the final removal
// fail (ENOTEMPTY), as with rm -r.
func removeTree(d *dirfd.Dir, name string, h *opath.Handle) error {
	same, err := sameMount(d, h)
	if err != nil {
		return err
	}
	if !same {
		return errMountPoint
	}
	f, err := h.Reopen(os.O_RDONLY)
	if err != nil {
		return err
	}
	defer f.Close()
	sub, err := dirfd.FromFile(f)
	if err != nil {
		return err
	}
	defer sub.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return err
	}
	var first error
	for _, n := range names {
		if err := sub.RemoveAll(n); err != nil && first == nil {
			first = &treeError{at: n, err: err}
		}
	}
	if first != nil {
		return first
	}
	return d.RemoveIfSame(name, h)
}

// sameMount reports whether the object h pins is on the mount that holds
// directory d. Mount IDs are compared, not device numbers: a bind mount of
// a directory of the same filesystem has the same st_dev as the directory
// it sits in, and only its mount ID tells it apart.
func sameMount(d *dirfd.Dir, h *opath.Handle) (bool, error) {
	a, err := mountid.Of(int(d.Fd()))
	if err != nil {
		return false, err
	}
	b, err := mountid.Of(int(h.Fd()))
	if err != nil {
		return false, err
	}
	return a == b, nil
}

// treeError is a failure at an entry below the operand of rm -r: at is
// the entry in the operand's directory, and err, from Dir.RemoveAll, names
// the object that could not be removed relative to it.
type treeError struct {
	at  string
	err error
}

func (e *treeError) Error() string { return e.err.Error() }
func (e *treeError) Unwrap() error { return e.err }

// where names the object that could not be removed, below arg: the
// innermost *fs.PathError's path, relative to the directory the entry is
// in (Dir.RemoveAll's own error wraps unlinkat.RemoveAll's).
func (e *treeError) where(arg string) string {
	at := e.at
	var pe *fs.PathError
	for err := e.err; errors.As(err, &pe); err = pe.Err {
		at = pe.Path
	}
	return path.Join(arg, at)
}

func rmError(arg string, err error) error {
	if errors.Is(err, errRefused) || errors.Is(err, errIsDir) || errors.Is(err, errMountPoint) {
		return fmt.Errorf("%s: %w", quote(arg), err)
	}
	var oe *operandErr
	if errors.As(err, &oe) {
		return err
	}
	var te *treeError
	switch {
	case errors.As(err, &te) && errors.Is(err, syscall.EXDEV):
		return fmt.Errorf("cannot remove %s: it is a mount point; rm -r does not enter other mounts", quote(te.where(arg)))
	case errors.As(err, &te):
		return fmt.Errorf("cannot remove %s: %s", quote(te.where(arg)), explain(err))
	}
	return fmt.Errorf("cannot remove %s: %s", quote(arg), explain(err))
}
