package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/racefree/racefree/dirfd"
)

// rootFlags are --root DIR and --in-root DIR: DEST is then a name inside
// DIR, resolved Beneath (a way out is refused) or InRoot (as a process
// chrooted there would resolve it: a container's rootfs).
//
// They live here until the shared --root/--in-root helper of the other
// commands is on main; extract uses only addRootFlags, check and
// destination, so switching is a change of those three calls.
type rootFlags struct {
	beneath, inRoot *string
}

func addRootFlags(fs *flag.FlagSet) *rootFlags {
	return &rootFlags{
		beneath: fs.String("root", "", "resolve DEST inside `DIR`: nothing outside DIR is ever touched"),
		inRoot:  fs.String("in-root", "", "resolve DEST inside `DIR` as a process chrooted there would (a container's rootfs)"),
	}
}

func (r *rootFlags) check() error {
	if *r.beneath != "" && *r.inRoot != "" {
		return usagef("--root and --in-root exclude each other")
	}
	return nil
}

// destination opens the directory DEST is to be made in, and returns it
// with DEST's name there ("" when DEST names that directory itself).
// Without a root DEST's directory is opened by its path, as any shell tool
// opens it; from then on everything happens through its descriptor.
func (r *rootFlags) destination(dest string) (*dirfd.Dir, string, error) {
	root, opts := *r.beneath, []dirfd.Option{dirfd.Beneath()}
	if *r.inRoot != "" {
		root, opts = *r.inRoot, []dirfd.Option{dirfd.InRoot()}
	}
	if root == "" {
		en := parseEntry(dest)
		if !en.isEntry() {
			d, err := dirfd.Open(dest)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %s", dest, explain(err))
			}
			return d, "", nil
		}
		d, err := en.open()
		return d, en.name, err
	}
	d, err := dirfd.Open(root, opts...)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %s", root, explain(err))
	}
	name := strings.TrimRight(dest, "/") // "/": the root itself
	if name == "." {
		name = ""
	}
	return d, name, nil
}
