package main

import (
	"errors"
	"io/fs"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

func runChmod(e *env, args []string) error {
	isMode := func(a string) bool { _, err := parseModeSpec(a); return err == nil }
	modeArg, paths, recursive, s, err := changeArgs(e, "chmod", "MODE", args, isMode)
	if err != nil {
		return err
	}
	defer s.Close()
	spec, err := parseModeSpec(modeArg)
	if err != nil {
		return usagef("%v", err)
	}
	umask := currentUmask()
	newMode := func(info fs.FileInfo) uint32 {
		return spec.apply(permBits(info.Mode()), info.IsDir(), umask)
	}
	c := &change{
		e: e, verb: "change the mode of", recursive: recursive, doing: "changing modes", done: "changed modes",
		one: func(h *opath.Handle, fi fs.FileInfo) error {
			if fi.Mode()&fs.ModeSymlink != 0 {
				return errSymlinkMode
			}
			if m := newMode(fi); m != permBits(fi.Mode()) {
				return h.Chmod(fileMode(m))
			}
			return nil
		},
		tree: func(d *dirfd.Dir, name string, progress dirfd.WalkOption) error {
			return d.ChmodTree(name, func(_ string, info fs.FileInfo) fs.FileMode {
				return fileMode(newMode(info))
			}, progress)
		},
	}
	return c.run(s, paths)
}

// errSymlinkMode refuses to chmod a symlink operand: the system keeps no
// mode for a symlink, and racefree follows none (chmod(1) would change
// the target).
var errSymlinkMode = errors.New("it is a symlink; racefree chmod follows no symlink (name its target)")
