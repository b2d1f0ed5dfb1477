package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

// change is what chown and chmod do to each PATH: one object through a
// handle of it, or (-R) the tree under it through the library's walk.
type change struct {
	e         *env
	verb      string // "change the owner of", for messages
	recursive bool
	// one changes the object h pins, whose lstat information is fi.
	one func(h *opath.Handle, fi fs.FileInfo) error
	// tree changes name in d and everything below it.
	tree func(d *dirfd.Dir, name string) error
}

// run changes every operand, going on past one that fails as coreutils
// does, and returns errReported if any failed.
func (c *change) run(s *scope, operands []string) error {
	failed := false
	for _, arg := range operands {
		if err := c.operand(s, arg); err != nil {
			c.e.report(err)
			failed = true
		}
	}
	if failed {
		return errReported
	}
	return nil
}

func (c *change) operand(s *scope, arg string) error {
	d, name, err := s.object(arg)
	if err != nil {
		return err
	}
	defer d.Close()
	if c.recursive {
		return c.treeError(arg, name, c.tree(d, name))
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

// treeError names the object a tree operation failed on, below arg: the
// library names it by the walk's path, which starts with name.
func (c *change) treeError(arg, name string, err error) error {
	if err == nil {
		return nil
	}
	at := arg
	var pe *fs.PathError
	if errors.As(err, &pe) {
		rel := strings.TrimPrefix(pe.Path, strings.TrimSuffix(name, "/"))
		if name == "." && pe.Path != "." {
			rel = "/" + pe.Path
		}
		at = strings.TrimRight(arg, "/") + rel
		if at == "" {
			at = arg
		}
	}
	if errors.Is(err, dirfd.ErrHardLinked) {
		return fmt.Errorf("%s: left unchanged: a regular file with several hard links, which anyone may make here (fs.protected_hardlinks is off)", quote(at))
	}
	return fmt.Errorf("cannot %s %s: %s", c.verb, quote(at), explain(err))
}
