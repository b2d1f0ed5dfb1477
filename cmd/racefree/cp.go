package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/racefree/racefree/dirfd"
)

func runCp(e *env, args []string) error {
	flags := newFlags("cp")
	var archive bool
	flags.BoolVar(&archive, "a", false, "copy as cp -a does: directories with their contents, symlinks as links, hard links, modes, times, owners when root (required)")
	flags.BoolVar(&archive, "archive", false, "same as -a")
	special := flags.Bool("special", false, "copy FIFOs, sockets and device nodes too (refused without it)")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if !archive {
		return usagef("racefree cp copies only as cp -a does: give -a")
	}
	if len(operands) < 2 {
		return usagef("want SRC and DST (or SRC... DIR), got %d operands", len(operands))
	}
	s, err := rf.open(operands)
	if err != nil {
		return err
	}
	defer s.Close()
	var opts []dirfd.CopyOption
	if *special {
		opts = append(opts, dirfd.CopySpecial())
	}
	p := newProgress(e.stderr, "copying", true)
	opts = append(opts, dirfd.CopyProgress(func(files int, bytes int64) { p.update(int64(files), bytes) }))

	plan, err := planCopies(s, operands)
	if err != nil {
		return err
	}
	defer plan.dir.Close()
	failed := false
	for _, c := range plan.copies {
		if err := copyOne(s, plan.dir, c, opts); err != nil {
			e.report(err)
			failed = true
		}
	}
	if failed {
		p.done("")
		return errReported
	}
	p.done("copied")
	return nil
}

// cpPlan is where cp puts its copies: one directory, and per SRC the name
// of its copy there.
type cpPlan struct {
	dir    *dirfd.Dir
	copies []plannedCopy
}

type plannedCopy struct {
	src   string // the SRC operand
	name  string // the copy's name in the plan's directory
	shown string // the copy as the user would name it, for messages
}

// planCopies decides, as cp does, between "SRC DST" (DST is not an
// existing directory: it is the new name) and "SRC... DIR" (each SRC is
// copied into DIR under its own last component).
func planCopies(s *scope, operands []string) (*cpPlan, error) {
	n := len(operands)
	last := operands[n-1]
	d, err := s.openIfDir(last)
	if err != nil {
		return nil, err
	}
	if d != nil {
		p := &cpPlan{dir: d}
		for _, src := range operands[:n-1] {
			en := parseEntry(src)
			if !en.isEntry() {
				d.Close()
				return nil, fmt.Errorf("%s: names a directory by position; give the copy's name (racefree cp -a %s %s)", quote(src), quote(src), quote(inDir(last, "NAME")))
			}
			p.copies = append(p.copies, plannedCopy{src: src, name: en.name, shown: inDir(last, en.name)})
		}
		return p, nil
	}
	if n > 2 {
		return nil, fmt.Errorf("%s: not a directory (several SRCs need a DIR to copy into)", quote(last))
	}
	dst := parseEntry(last)
	if !dst.isEntry() || dst.slash {
		return nil, fmt.Errorf("%s: not a directory (a DST ending in / must be an existing directory)", quote(last))
	}
	if d, err = s.parent(dst); err != nil {
		return nil, err
	}
	return &cpPlan{dir: d, copies: []plannedCopy{{src: operands[0], name: dst.name, shown: last}}}, nil
}

// copyOne copies the tree c.src names into dst as c.name, reading it only
// through descriptors (a symlink in it is copied as a link, never followed).
func copyOne(s *scope, dst *dirfd.Dir, c plannedCopy, opts []dirfd.CopyOption) error {
	sd, name, err := s.object(c.src)
	if err != nil {
		return err
	}
	defer sd.Close()
	err = dirfd.CopyTree(dst, c.name, sd, name, opts...)
	if err == nil {
		return nil
	}
	// CopyTree names the entry it failed on by its walk path.
	at := ""
	if le := (*os.LinkError)(nil); errors.As(err, &le) && le.Old != name {
		at = fmt.Sprintf(" (at %s)", quote(below(c.src, name, le.Old)))
	} else if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s: exists; racefree cp never replaces anything (racefree install replaces a tree atomically)", quote(c.shown))
	}
	return fmt.Errorf("cannot copy %s to %s%s: %s", quote(c.src), quote(c.shown), at, explain(err))
}
