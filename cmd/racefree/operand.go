package main

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/fallback"
)

// entry is a command-line operand that names a directory entry, split into
// the directory holding it and its name there. The directory is resolved by
// its path, as any shell tool resolves it; from then on the commands act
// only through a descriptor of it, so no later change to the names above
// can redirect the operation.
type entry struct {
	arg    string // the operand as given, for messages
	parent string // the directory holding the entry
	name   string // the last component without trailing slashes
	slash  bool   // the operand ends in "/": it must name a directory
}

// parseEntry splits arg. Its name is "", "." or ".." when arg names a
// directory by "/", "." or ".." rather than by an entry (see isEntry).
func parseEntry(arg string) entry {
	trimmed := strings.TrimRight(arg, "/")
	en := entry{arg: arg, parent: ".", slash: len(trimmed) < len(arg)}
	i := strings.LastIndexByte(trimmed, '/')
	en.name = trimmed[i+1:]
	if i >= 0 {
		if en.parent = strings.TrimRight(trimmed[:i], "/"); en.parent == "" {
			en.parent = "/"
		}
	}
	return en
}

// isEntry reports whether the operand names an entry that can be linked,
// renamed or removed: "/", "." and ".." name directories by position, and
// the kernel refuses to act on those names (EBUSY, EINVAL, ENOTEMPTY).
func (en entry) isEntry() bool {
	return en.name != "" && en.name != "." && en.name != ".."
}

// open opens the directory holding the entry.
func (en entry) open() (*dirfd.Dir, error) {
	d, err := dirfd.Open(en.parent)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", en.arg, explain(err))
	}
	return d, nil
}

// checkOperands rejects operands no command can act on. (An argument from
// exec cannot hold a NUL byte, but the check costs nothing and keeps a
// caller of run from truncating names.)
func checkOperands(operands []string) error {
	for _, o := range operands {
		switch {
		case o == "":
			return usagef("empty operand")
		case strings.IndexByte(o, 0) >= 0:
			return usagef("operand %q contains a NUL byte", o)
		}
	}
	return nil
}

// openIfDir opens path as a directory when it is one (following symlinks,
// as coreutils does for a destination operand) and returns nil, nil when
// it is not a directory or does not exist.
func openIfDir(path string) (*dirfd.Dir, error) {
	d, err := dirfd.Open(path)
	switch {
	case err == nil:
		return d, nil
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, fs.ErrNotExist):
		return nil, nil
	}
	return nil, fmt.Errorf("%s: %s", path, explain(err))
}

// inDir names entry name of the directory operand dir for messages.
func inDir(dir, name string) string { return filepath.Join(dir, name) }

// explain says why an operation failed, in words a shell user recognises,
// without the system call names and paths the library's errors carry.
func explain(err error) string {
	var conflict *fallback.ConflictError
	switch {
	case errors.As(err, &conflict):
		// Never lose track of an object: say where it is now.
		return fmt.Sprintf("%s; that object is now at %s in the same directory (the name was taken again meanwhile)", explain(conflict.Err), conflict.Name)
	case errors.Is(err, dirfd.ErrEscape):
		return "escapes from the directory holding it"
	case errors.Is(err, dirfd.ErrChanged):
		return "it was replaced by another object while racefree worked on it; nothing was done to that object"
	}
	return innermost(err)
}
