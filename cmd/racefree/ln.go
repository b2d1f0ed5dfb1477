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
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if err := checkOperands(operands); err != nil {
		return err
	}
	plan, err := planLinks(operands, noTargetDir)
	if err != nil {
		return err
	}
	defer plan.dir.Close()

	l := linker{dir: plan.dir, symbolic: symbolic, force: force}
	defer l.close(e)
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
func planLinks(operands []string, noTargetDir bool) (*lnPlan, error) {
	n := len(operands)
	switch {
	case n == 0:
		return nil, usagef("missing TARGET")
	case noTargetDir && n != 2:
		return nil, usagef("-T takes exactly TARGET and LINK, got %d operands", n)
	case n == 1:
		d, err := dirfd.Open(".")
		if err != nil {
			return nil, fmt.Errorf(".: %s", explain(err))
		}
		return intoDir(d, "", operands), nil
	}
	last := operands[n-1]
	if !noTargetDir {
		d, err := openIfDir(last)
		if err != nil {
			return nil, err
		}
		if d != nil {
			return intoDir(d, last, operands[:n-1]), nil
		}
		if n > 2 {
			return nil, fmt.Errorf("%s: not a directory (several TARGETs need a DIR to put the links in)", last)
		}
	}
	link := parseEntry(last)
	switch {
	case !link.isEntry():
		return nil, fmt.Errorf("%s: names a directory, not a link to create", last)
	case link.slash && noTargetDir:
		return nil, fmt.Errorf("%s: with -T, LINK names the link itself and cannot end in /", last)
	case link.slash:
		return nil, fmt.Errorf("%s: not a directory (a LINK ending in / must be an existing directory)", last)
	}
	d, err := link.open()
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
			lk.err = fmt.Errorf("%s: has no last component to name the link after (give LINK)", t)
		}
		p.links = append(p.links, lk)
	}
	return p
}

// linker makes the links of one plan.
type linker struct {
	dir             *dirfd.Dir
	symbolic, force bool
	// replacer is the batch's staging directory for ln -f, created at
	// the first replacement: two or three system calls per link after
	// that.
	replacer linkReplacer
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
		if err := l.stage(lk); err != nil {
			return err
		}
		err = l.replacer.ReplaceSymlink(lk.target, lk.name)
	default:
		err = l.dir.Symlink(lk.target, lk.name)
	}
	return l.linkError(lk, err)
}

// stage creates the batch's staging directory for the first replacement.
func (l *linker) stage(lk plannedLink) error {
	if l.replacer != nil {
		return nil
	}
	r, err := newReplacer(l.dir)
	if err != nil {
		return fmt.Errorf("%s: creating the staging directory: %s", lk.shown, explain(err))
	}
	l.replacer = r
	return nil
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
	sd, err := src.open()
	if err != nil {
		return err
	}
	defer sd.Close()
	fi, err := sd.Lstat(src.name)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %s", lk.target, explain(err))
	case fi.IsDir():
		return errDirHardLink(lk.target)
	case src.slash:
		return fmt.Errorf("%s: %s", lk.target, syscall.ENOTDIR)
	}
	if !l.force {
		return l.linkError(lk, linkAt(sd, src.name, l.dir, lk.name))
	}
	if err := l.stage(lk); err != nil {
		return err
	}
	return l.linkError(lk, l.replacer.ReplaceLink(int(sd.Fd()), src.name, lk.name))
}

func errDirHardLink(target string) error {
	return fmt.Errorf("%s: hard link not allowed for directory", target)
}

func (l *linker) linkError(lk plannedLink, err error) error {
	switch {
	case err == nil:
		return nil
	case l.force && isDirInTheWay(err):
		return fmt.Errorf("%s: is a directory; ln never replaces a directory", lk.shown)
	case !l.force && errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s: file exists (-f replaces it atomically)", lk.shown)
	}
	return fmt.Errorf("%s: %s", lk.shown, explain(err))
}

// isDirInTheWay reports the errors rename(2) gives for a non-directory
// renamed over a directory (EISDIR), or, as some filesystems say it, over
// one that is not empty.
func isDirInTheWay(err error) bool {
	return errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

func (l *linker) close(e *env) {
	if l.replacer == nil {
		return
	}
	// The links are published by now; a stage that cannot be removed
	// (someone moved it) is an empty leftover that Dir.RemoveStale
	// cleans up, not a failure of ln.
	if err := l.replacer.Close(); err != nil {
		fmt.Fprintf(e.stderr, "%s: ln: warning: removing the staging directory: %s\n", programName, explain(err))
	}
}

// linkReplacer is linkat.Replacer where the platform has one.
type linkReplacer interface {
	ReplaceSymlink(target, name string) error
	ReplaceLink(olddirfd int, oldname, name string) error
	Close() error
}
