package main

import (
	"io/fs"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

func runChown(e *env, args []string) error {
	owner, paths, recursive, s, err := changeArgs(e, "chown", "OWNER[:GROUP]", args, func(string) bool { return false })
	if err != nil {
		return err
	}
	defer s.Close()
	uid, gid, err := parseOwner(owner)
	if err != nil {
		return usagef("%v", err)
	}
	c := &change{
		e: e, verb: "change the owner of", recursive: recursive, doing: "changing owners", done: "changed owners",
		// A symlink's own owner, as chown -h: racefree follows none.
		one: func(h *opath.Handle, _ fs.FileInfo) error { return h.Chown(uid, gid) },
		tree: func(d *dirfd.Dir, name string, progress dirfd.WalkOption) error {
			return d.ChownTree(name, uid, gid, progress)
		},
	}
	return c.run(s, paths)
}
