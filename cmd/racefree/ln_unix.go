//go:build unix

package main

import (
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/linkat"
)

// newReplacer stages replacements in one private directory in d.
func newReplacer(d *dirfd.Dir) (linkReplacer, error) {
	r, err := linkat.NewReplacer(int(d.Fd()))
	if err != nil {
		return nil, err
	}
	return r, nil
}

// linkAt makes newname in nd a hard link to oldname in od, which are two
// directories (a Dir's own Link takes both names inside one Dir).
func linkAt(od *dirfd.Dir, oldname string, nd *dirfd.Dir, newname string) error {
	return linkat.Link(int(od.Fd()), oldname, int(nd.Fd()), newname, 0)
}
