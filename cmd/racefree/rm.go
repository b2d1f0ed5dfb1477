package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

func runRm(e *env, args []string) error {
	flags := newFlags("rm")
	var recursive, force bool
	flags.BoolVar(&recursive, "r", false, "remove directories and everything below them, never following a symlink")
	flags.BoolVar(&recursive, "R", false, "same as -r")
	flags.BoolVar(&recursive, "recursive", false, "same as -r")
	flags.BoolVar(&force, "f", false, "ignore missing files (rm never prompts)")
	flags.BoolVar(&force, "force", false, "same as -f")
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
	if err := checkOperands(operands); err != nil {
		return err
	}
	failed := false
	for _, arg := range operands {
		err := removeEntry(parseEntry(arg), recursive)
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

// removeEntry removes the object en names, examined through a handle: the
// type check and the removal concern the same object, and a name that
// meanwhile refers to another object is left alone (dirfd.ErrChanged).
func removeEntry(en entry, recursive bool) error {
	if !en.isEntry() {
		return errRefused
	}
	d, err := dirfd.Open(en.parent)
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
		return removeTree(d, en.name, h, fi)
	}
	return d.RemoveIfSame(en.name, h)
}

// removeTree empties the directory h pins, then removes it if name still
// refers to it. The tree is entered through h itself, not by name, so the
// directory emptied is the one examined; below it, Dir.RemoveAll opens
// every directory without following symlinks from its parent's descriptor,
// so a directory swapped for a symlink meanwhile is removed as the link,
// never followed, and nothing outside the tree or on another filesystem is
// touched. Entries added while it runs make the final removal fail
// (ENOTEMPTY), as with rm -r.
func removeTree(d *dirfd.Dir, name string, h *opath.Handle, fi fs.FileInfo) error {
	parent, err := d.Lstat(".")
	if err != nil {
		return err
	}
	if !sameDevice(parent, fi) {
		return errMountPoint
	}
	f, err := h.Reopen(os.O_RDONLY)
	if err != nil {
		return err
	}
	sub, err := dirfd.FromFile(f)
	f.Close()
	if err != nil {
		return err
	}
	defer sub.Close()
	entries, err := sub.ReadDir(".")
	if err != nil {
		return err
	}
	for _, ent := range entries {
		if err := sub.RemoveAll(ent.Name()); err != nil {
			return err
		}
	}
	return d.RemoveIfSame(name, h)
}

// errMountPoint refuses to empty a mounted filesystem, as Dir.RemoveAll
// refuses below the top.
var errMountPoint = errors.New("is a mount point; rm -r does not enter other filesystems")

func rmError(arg string, err error) error {
	if errors.Is(err, errRefused) || errors.Is(err, errIsDir) || errors.Is(err, errMountPoint) {
		return fmt.Errorf("%s: %w", arg, err)
	}
	if errors.Is(err, syscall.EXDEV) {
		return fmt.Errorf("cannot remove %s: it contains a mount point; rm -r does not enter other filesystems", arg)
	}
	return fmt.Errorf("cannot remove %s: %s", arg, explain(err))
}
