package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/racefree/racefree/dirfd"
)

func runLn(e *env, args []string) error {
	flags := newFlags("ln")
	var symbolic, force, noTargetDir bool
	flags.BoolVar(&symbolic, "s", false, "make symbolic links instead of hard links")
	flags.BoolVar(&symbolic, "symbolic", false, "same as -s")
	flags.BoolVar(&force, "f", false, "replace an existing link or file atomically (never a directory)")
	flags.BoolVar(&force, "force", false, "same as -f")
	flags.BoolVar(&noTargetDir, "T", false, "LINK is the name to create, never a directory to put links in")
	flags.BoolVar(&noTargetDir, "no-target-directory", false, "same as -T")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	s, err := rf.open(operands)
	if err != nil {
		return err
	}
	defer s.Close()
	plan, err := planLinks(s, operands, noTargetDir)
	if err != nil {
		return err
	}
	defer plan.dir.Close()

	l := linker{scope: s, dir: plan.dir, symbolic: symbolic, force: force}
	failed := false
	for _, lk := range plan.links {
		if err := l.link(lk); err != nil {
			e.report(err)
			failed = true
		}
	}
	if failed {
		return errReported
	}
	return nil
}

// lnPlan is where ln puts its links: one directory, and per TARGET the name
// of its link there.
type lnPlan struct {
	dir   *dirfd.Dir
	links []plannedLink
}

type plannedLink struct {
	target string
	name   string // the link's name in the plan's directory
	shown  string // the link as the user would name it, for messages
	err    error  // why this link cannot be made, found while planning
}

// planLinks decides, as coreutils ln does, between the forms
// "TARGET LINK" (LINK is not a directory, or -T) and "TARGET... DIR" (one
// TARGET alone links into the current directory).
func planLinks(s *scope, operands []string, noTargetDir bool) (*lnPlan, error) {
	n := len(operands)
	switch {
	case n == 0:
		return nil, usagef("missing TARGET")
	case noTargetDir && n != 2:
		return nil, usagef("-T takes exactly TARGET and LINK, got %d operands", n)
	case n == 1:
		d, err := s.openDir(".")
		if err != nil {
			return nil, err
		}
		return intoDir(d, "", operands), nil
	}
	last := operands[n-1]
	if !noTargetDir {
		d, err := s.openIfDir(last)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return intoDir(d, last, operands[:n-1]), nil
		}
		if n > 2 {
			return nil, fmt.Errorf("%s: not a directory (several TARGETs need a DIR to put the links in)", quote(last))
		}
	}
	link := parseEntry(last)
	switch {
	case !link.isEntry():
		return nil, fmt.Errorf("%s: names a directory, not a link to create", quote(last))
	case link.slash && noTargetDir:
		return nil, fmt.Errorf("%s: with -T, LINK names the link itself and cannot end in /", quote(last))
	case link.slash:
		return nil, fmt.Errorf("%s: not a directory (a LINK ending in / must be an existing directory)", quote(last))
	}
	d, err := s.parent(link)
	if err != nil {
		return nil, err
	}
	return &lnPlan{dir: d, links: []plannedLink{{target: operands[0], name: link.name, shown: last}}}, nil
}

// intoDir plans a link named after each target's last component in d,
// which the user named dirArg ("" for the current directory).
func intoDir(d *dirfd.Dir, dirArg string, targets []string) *lnPlan {
	p := &lnPlan{dir: d}
	for _, t := range targets {
		en := parseEntry(t)
		lk := plannedLink{target: t, name: en.name, shown: inDir(dirArg, en.name)}
		if !en.isEntry() {
			lk.err = fmt.Errorf("%s: has no last component to name the link after (give LINK)", quote(t))
		}
		p.links = append(p.links, lk)
	}
	return p
}

// linker makes the links of one plan.
type linker struct {
	scope           *scope // where hard links' targets are found
	dir             *dirfd.Dir
	symbolic, force bool
}

func (l *linker) link(lk plannedLink) error {
	if lk.err != nil {
		return lk.err
	}
	var err error
	switch {
	case !l.symbolic:
		return l.hardLink(lk)
	case l.force:
		err = l.dir.ReplaceSymlink(lk.target, lk.name)
	default:
		err = l.dir.Symlink(lk.target, lk.name)
	}
	return l.linkError(lk, err)
}

// hardLink makes a hard link to the entry TARGET names, from a descriptor
// of TARGET's directory: a final symlink is linked itself, not followed
// (coreutils' -P, its default on Linux). The type check is for the message
// only (the kernel refuses to link a directory anyway): it cannot pin the
// object, since linking by name is what every platform can do, and what
// the atomic replacement (which links into its stage by name) does too.
func (l *linker) hardLink(lk plannedLink) error {
	src := parseEntry(lk.target)
	if !src.isEntry() {
		return errDirHardLink(lk.target)
	}
	sd, err := l.scope.parent(src)
	if err != nil {
		return err
	}
	defer sd.Close()
	fi, err := sd.Lstat(src.name)
	switch {
	case err != nil:
		return operandError(lk.target, err)
	case fi.IsDir():
		return errDirHardLink(lk.target)
	case src.slash:
		return operandError(lk.target, syscall.ENOTDIR)
	}
	link := dirfd.LinkBetween
	if l.force {
		link = dirfd.ReplaceLinkBetween
	}
	return l.linkError(lk, link(sd, src.name, l.dir, lk.name))
}

func errDirHardLink(target string) error {
	return fmt.Errorf("%s: hard link not allowed for directory", quote(target))
}

func (l *linker) linkError(lk plannedLink, err error) error {
	switch {
	case err == nil:
		return nil
	case l.force && isDirInTheWay(err):
		return fmt.Errorf("%s: is a directory; ln never replaces a directory", quote(lk.shown))
	case !l.force && errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s: file exists (-f replaces it atomically)", quote(lk.shown))
	}
	return operandError(lk.shown, err)
}

// isDirInTheWay reports the errors rename(2) gives for a non-directory
// renamed over a directory (EISDIR), or, as some filesystems say it, over
// one that is not empty.
func isDirInTheWay(err error) bool {
	return errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}
