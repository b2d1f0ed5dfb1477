package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

// resolveModes maps --mode values to the dirfd options they select.
var resolveModes = map[string][]dirfd.Option{
	"beneath":     {dirfd.Beneath()},
	"in-root":     {dirfd.InRoot()},
	"no-symlinks": {dirfd.Beneath(), dirfd.NoSymlinks()},
}

// maxFollow bounds the symlinks resolve follows at the end of PATH, as the
// kernel's limit of 40 does.
const maxFollow = 40

func runResolve(e *env, args []string) error {
	flags := newFlags("resolve")
	rf := addRootFlags(flags)
	mode := flags.String("mode", "", "beneath (the default with --root: stay inside, escaping fails), in-root (the default with --in-root: chroot-like) or no-symlinks")
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) != 1 {
		return usagef("want exactly one PATH, got %d", len(operands))
	}
	if err := checkOperands(operands); err != nil {
		return err
	}
	rootArg, opts, err := resolveRoot(rf, *mode)
	if err != nil {
		return err
	}
	name := operands[0]

	d, err := dirfd.Open(rootArg, opts...)
	if err != nil {
		return operandError(rootArg, err)
	}
	defer d.Close()
	rootPath, err := handlePath(d, ".")
	if err != nil {
		return operandError(rootArg, err)
	}

	h, err := d.OpenHandle(name)
	if err != nil {
		return fmt.Errorf("%s: %s", quote(name), reason(err))
	}
	where, kind, target, err := describe(h, rootPath)
	h.Close()
	if err != nil {
		return operandError(name, err)
	}
	fmt.Fprintf(e.stdout, "root:   %s\npath:   %s\nlands:  %s\ntype:   %s\n", quote(rootPath), quote(name), where, kind)
	if kind != "symlink" {
		return nil
	}
	fmt.Fprintf(e.stdout, "target: %s\n", quote(target))

	// The handle pins the link itself. Report where following it leads,
	// resolving each target again through d, as the library does, so the
	// mode's containment applies to the target too.
	if *mode == "no-symlinks" {
		fmt.Fprintf(e.stdout, "follows: refused: --mode no-symlinks follows no symlink\n")
		return nil
	}
	next := name
	for i := 0; kind == "symlink"; i++ {
		if i == maxFollow {
			fmt.Fprintf(e.stdout, "follows: refused: %v\n", syscall.ELOOP)
			return nil
		}
		next = spliceTarget(next, target)
		h, err := d.OpenHandle(next)
		if err != nil {
			fmt.Fprintf(e.stdout, "follows: refused: %s\n", reason(err))
			return nil
		}
		where, kind, target, err = describe(h, rootPath)
		h.Close()
		if err != nil {
			return operandError(next, err)
		}
	}
	fmt.Fprintf(e.stdout, "follows: %s (%s)\n", where, kind)
	return nil
}

// resolveRoot chooses the root directory and the options for resolve:
// --root DIR (or the current directory) with --mode, or --in-root DIR,
// which is --mode in-root.
func resolveRoot(rf *rootFlags, mode string) (string, []dirfd.Option, error) {
	root := rf.dir
	switch {
	case rf.both:
		return "", nil, usagef("--root and --in-root exclude each other")
	case rf.flag == "--in-root" && mode != "" && mode != "in-root":
		return "", nil, usagef("--in-root resolves in-root, not %q (give --root DIR --mode %s)", mode, mode)
	case rf.flag == "--in-root":
		mode = "in-root"
	case root == "":
		root = "."
	}
	if mode == "" {
		mode = "beneath"
	}
	opts, ok := resolveModes[mode]
	if !ok {
		return "", nil, usagef("unknown --mode %q (want beneath, in-root or no-symlinks)", mode)
	}
	return root, opts, nil
}

// spliceTarget replaces the last component of name by a symlink's target,
// as the kernel does when it follows the link: an absolute target starts
// again at the top (which the Dir refuses in beneath mode).
func spliceTarget(name, target string) string {
	if strings.HasPrefix(target, "/") {
		return target
	}
	dir := path.Dir(strings.TrimRight(name, "/"))
	if dir == "." {
		return target
	}
	return dir + "/" + target
}

// handlePath names the object name refers to inside d, as the kernel names
// it now.
func handlePath(d *dirfd.Dir, name string) (string, error) {
	h, err := d.OpenHandle(name)
	if err != nil {
		return "", err
	}
	defer h.Close()
	return h.Path()
}

// describe says where h's object is relative to rootPath, what kind of
// object it is and, for a symlink, its target.
func describe(h *opath.Handle, rootPath string) (where, kind, target string, err error) {
	p, err := h.Path()
	if err != nil {
		return "", "", "", err
	}
	where, err = filepath.Rel(rootPath, p)
	if err != nil || where == ".." || strings.HasPrefix(where, "../") {
		// Possible only if the object was moved out of the tree after it
		// was opened (G1 allows that) or the root was renamed meanwhile.
		where = quote(p) + " (outside the root now)"
	} else {
		where = quote(where)
	}
	fi, err := h.Stat()
	if err != nil {
		return "", "", "", err
	}
	kind = kindOf(fi.Mode())
	if kind == "symlink" {
		if target, err = h.Readlink(); err != nil {
			return "", "", "", err
		}
	}
	return where, kind, target, nil
}

func kindOf(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "regular file"
	case fs.ModeDir:
		return "directory"
	case fs.ModeSymlink:
		return "symlink"
	case fs.ModeNamedPipe:
		return "named pipe"
	case fs.ModeSocket:
		return "socket"
	case fs.ModeDevice | fs.ModeCharDevice:
		return "character device"
	case fs.ModeDevice:
		return "block device"
	}
	return "irregular file"
}

// reason says why a name was refused, in words a shell user recognises.
func reason(err error) string {
	switch {
	case errors.Is(err, dirfd.ErrEscape):
		return "escapes from the root"
	case errors.Is(err, syscall.ELOOP):
		return "a symlink is in the way (--mode no-symlinks refuses all of them, and at most 40 are followed)"
	}
	return innermost(err)
}
