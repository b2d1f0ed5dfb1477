package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"strings"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

// changeArgs parses the command line of chown and chmod: [-R] FIRST PATH...,
// with --root or --in-root, where FIRST is what is given to each PATH
// (OWNER[:GROUP], MODE). FIRST may start with '-' when dashFirst accepts
// it ("-w" is a mode, not a flag, as in chmod(1)).
func changeArgs(e *env, name, first string, args []string, dashFirst func(string) bool) (arg string, paths []string, recursive bool, s *scope, err error) {
	flags := newFlags(name)
	flags.BoolVar(&recursive, "R", false, "change PATH and everything below it, never following a symlink or entering another mount")
	flags.BoolVar(&recursive, "recursive", false, "same as -R")
	rf := addRootFlags(flags)
	arg, args = takeDashFirst(flags, args, dashFirst)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return "", nil, false, nil, err
	}
	if arg != "" {
		operands = append([]string{arg}, operands...)
	}
	if len(operands) < 2 {
		return "", nil, false, nil, usagef("want %s and at least one PATH, got %d operands", first, len(operands))
	}
	if s, err = rf.open(operands); err != nil {
		return "", nil, false, nil, err
	}
	return operands[0], operands[1:], recursive, s, nil
}

// takeDashFirst takes out the first argument before "--" that starts with
// '-', is no flag of fs and that dashFirst accepts, which the flag parser
// would otherwise take for flags.
func takeDashFirst(fs *flag.FlagSet, args []string, dashFirst func(string) bool) (string, []string) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if strings.HasPrefix(a, "-") && len(a) > 1 && !isFlag(fs, a) && dashFirst(a) {
			return a, append(args[:i:i], args[i+1:]...)
		}
	}
	return "", args
}

// isFlag reports whether a is one of fs's flags, alone, combined ("-Rf")
// or with its value ("--root=d").
func isFlag(fs *flag.FlagSet, a string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
	return fs.Lookup(name) != nil || combinedFlags(fs, a)
}

// change is what chown and chmod do to each PATH: one object through a
// handle of it, or (-R) the tree under it through the library's walk.
type change struct {
	e         *env
	verb      string // "change the owner of", for messages
	recursive bool
	// one changes the object h pins, whose lstat information is fi.
	one func(h *opath.Handle, fi fs.FileInfo) error
	// tree changes name in d and everything below it, reporting to
	// progress (dirfd.TreeProgress).
	tree func(d *dirfd.Dir, name string, progress dirfd.WalkOption) error
	// doing and done describe a recursive change on a terminal, while
	// it runs and at its end: "changing owners", "changed owners".
	doing, done string
}

// run changes every operand, going on past one that fails as coreutils
// does, and returns errReported if any failed.
func (c *change) run(s *scope, operands []string) error {
	p := newProgress(c.e.stderr, c.doing, false)
	failed := false
	for _, arg := range operands {
		if err := c.operand(s, arg, p); err != nil {
			c.e.report(err)
			failed = true
		}
	}
	if failed {
		p.done("")
		return errReported
	}
	if c.recursive {
		p.done(c.done)
	} else {
		p.done("")
	}
	return nil
}

func (c *change) operand(s *scope, arg string, p *progress) error {
	d, name, err := s.object(arg)
	if err != nil {
		return err
	}
	defer d.Close()
	if c.recursive {
		return c.treeError(arg, name, c.tree(d, name, dirfd.TreeProgress(p.objectsDone)))
	}
	h, err := d.OpenHandle(name)
	if err != nil {
		return operandError(arg, err)
	}
	defer h.Close()
	fi, err := h.Stat()
	if err == nil {
		err = c.one(h, fi)
	}
	if err != nil {
		return fmt.Errorf("cannot %s %s: %s", c.verb, quote(arg), explain(err))
	}
	return nil
}

// treeError names the object a tree operation failed on, below arg.
func (c *change) treeError(arg, name string, err error) error {
	if err == nil {
		return nil
	}
	at := arg
	var pe *fs.PathError
	if errors.As(err, &pe) {
		at = below(arg, name, pe.Path)
	}
	if errors.Is(err, dirfd.ErrHardLinked) {
		return fmt.Errorf("%s: left unchanged: a regular file with several hard links, which anyone may make here (fs.protected_hardlinks is off)", quote(at))
	}
	return fmt.Errorf("cannot %s %s: %s", c.verb, quote(at), explain(err))
}
