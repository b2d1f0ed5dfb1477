package main

import (
	"io/fs"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

func runChown(e *env, args []string) error {
	flags := newFlags("chown")
	var recursive bool
	flags.BoolVar(&recursive, "R", false, "change PATH and everything below it, never following a symlink or entering another mount")
	flags.BoolVar(&recursive, "recursive", false, "same as -R")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) < 2 {
		return usagef("want OWNER[:GROUP] and at least one PATH, got %d operands", len(operands))
	}
	if err := checkOperands(operands); err != nil {
		return err
	}
	uid, gid, err := parseOwner(operands[0])
	if err != nil {
		return usagef("%v", err)
	}
	s, err := rf.open()
	if err != nil {
		return err
	}
	defer s.Close()
	c := &change{
		e: e, verb: "change the owner of", recursive: recursive,
		// A symlink's own owner, as chown -h: racefree follows none.
		one: func(h *opath.Handle, _ fs.FileInfo) error { return h.Chown(uid, gid) },
		tree: func(d *dirfd.Dir, name string) error {
			return d.ChownTree(name, uid, gid)
		},
	}
	return c.run(s, operands[1:])
}
