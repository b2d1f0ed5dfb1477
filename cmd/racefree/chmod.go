package main

import (
	"errors"
	"flag"
	"io/fs"
	"strings"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

func runChmod(e *env, args []string) error {
	flags := newFlags("chmod")
	var recursive bool
	flags.BoolVar(&recursive, "R", false, "change PATH and everything below it, never following a symlink or entering another mount")
	flags.BoolVar(&recursive, "recursive", false, "same as -R")
	rf := addRootFlags(flags)
	modeArg, args := takeDashMode(flags, args)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if modeArg != "" {
		operands = append([]string{modeArg}, operands...)
	}
	if len(operands) < 2 {
		return usagef("want MODE and at least one PATH, got %d operands", len(operands))
	}
	if err := checkOperands(operands); err != nil {
		return err
	}
	spec, err := parseModeSpec(operands[0])
	if err != nil {
		return usagef("%v", err)
	}
	s, err := rf.open()
	if err != nil {
		return err
	}
	defer s.Close()
	umask := currentUmask()
	newMode := func(info fs.FileInfo) uint32 {
		return spec.apply(permBits(info.Mode()), info.IsDir(), umask)
	}
	p := newProgress(e.stderr, "changing modes", false)
	defer p.done("")
	c := &change{
		e: e, verb: "change the mode of", recursive: recursive,
		one: func(h *opath.Handle, fi fs.FileInfo) error {
			if fi.Mode()&fs.ModeSymlink != 0 {
				return errSymlinkMode
			}
			if m := newMode(fi); m != permBits(fi.Mode()) {
				return h.Chmod(fileMode(m))
			}
			return nil
		},
		tree: func(d *dirfd.Dir, name string) error {
			return d.ChmodTree(name, func(_ string, info fs.FileInfo) fs.FileMode {
				p.add(0)
				return fileMode(newMode(info))
			})
		},
	}
	return c.run(s, operands[1:])
}

// errSymlinkMode refuses to chmod a symlink operand: the system keeps no
// mode for a symlink, and racefree follows none (chmod(1) would change
// the target).
var errSymlinkMode = errors.New("it is a symlink; racefree chmod follows no symlink (name its target)")

// takeDashMode takes out a MODE that starts with '-' ("-w", "-x,g+r"),
// which the flag parser would take for flags, as chmod(1) does: the first
// argument before "--" that is not a flag of fs and reads as a mode.
func takeDashMode(fs *flag.FlagSet, args []string) (string, []string) {
	for i, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 || isFlag(fs, a) {
			continue
		}
		if _, err := parseModeSpec(a); err == nil {
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
