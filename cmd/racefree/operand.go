package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/fallback"
)

// entry is a command-line operand that names a directory entry, split into
// the directory holding it and its name there. The directory is resolved
// once (by its path, or inside --root); from then on the commands act only
// through a descriptor of it, so no later change to the names above can
// redirect the operation.
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

// rootFlags are --root and --in-root, which every command that takes paths
// accepts (addRootFlags); open turns them into the scope its operands are
// resolved in.
type rootFlags struct {
	flag string // "--root" or "--in-root", whichever was given last; "" for neither
	dir  string
	both bool // both were given
}

// addRootFlags defines --root and --in-root on fs.
func addRootFlags(fs *flag.FlagSet) *rootFlags {
	rf := &rootFlags{}
	set := func(name string) func(string) error {
		return func(dir string) error {
			if dir == "" {
				// Never read as "no root": a script's empty variable must
				// not lift the confinement it asked for.
				return fmt.Errorf("empty DIR")
			}
			rf.both = rf.both || rf.flag != "" && rf.flag != name
			rf.flag, rf.dir = name, dir
			return nil
		}
	}
	fs.Func("root", "resolve every operand inside `DIR`; \"..\", absolute names and symlinks may not lead out of it", set("--root"))
	fs.Func("in-root", "resolve every operand inside `DIR` as if it were / (as chroot does: \"..\" at the top stays there, absolute names and symlinks start at DIR)", set("--in-root"))
	return rf
}

// open checks the command's operands and opens the directory --root or
// --in-root names: the scope of every operand. Without either, operands
// are paths, resolved as any shell tool resolves them.
func (rf *rootFlags) open(operands []string) (*scope, error) {
	if err := checkOperands(operands); err != nil {
		return nil, err
	}
	mode := dirfd.Beneath()
	switch {
	case rf.both:
		return nil, usagef("--root and --in-root exclude each other")
	case rf.flag == "":
		return &scope{}, nil
	case rf.flag == "--in-root":
		mode = dirfd.InRoot()
	}
	if err := checkOperands([]string{rf.dir}); err != nil {
		return nil, err
	}
	root, err := dirfd.Open(rf.dir, mode)
	if err != nil {
		return nil, operandError(rf.dir, err)
	}
	return &scope{root: root, rootArg: rf.dir, rootFlag: rf.flag}, nil
}

// scope is where a command resolves its operands: inside a root directory
// (--root, --in-root), or, without one, as paths from the current
// directory. It is the one place that turns an operand into a descriptor,
// for every command, extract included.
type scope struct {
	root     *dirfd.Dir // nil: operands are paths
	rootArg  string     // the root as given, for messages
	rootFlag string     // and how: "--root" or "--in-root"
}

// Close releases the root directory.
func (s *scope) Close() {
	if s.root != nil {
		s.root.Close()
	}
}

// openDir opens the directory arg names, following symlinks (inside the
// root, with one), as a Dir with the root's options. The caller closes it.
func (s *scope) openDir(arg string) (*dirfd.Dir, error) {
	var d *dirfd.Dir
	var err error
	if s.root == nil {
		d, err = dirfd.Open(arg)
	} else {
		d, err = s.root.OpenDir(arg)
	}
	if err != nil {
		return nil, s.operandError(arg, err)
	}
	return d, nil
}

// parent opens the directory holding en.
func (s *scope) parent(en entry) (*dirfd.Dir, error) {
	d, err := s.openDir(en.parent)
	if err != nil {
		// Name the operand the user gave, not the directory part of it.
		return nil, s.operandError(en.arg, errors.Unwrap(err))
	}
	return d, nil
}

// object opens the directory that holds the object arg names and returns
// it with the object's name there. For "/", "." or "..", which name a
// directory by position, and for an operand ending in "/", which asks for
// a directory (following a symlink there, inside the root with one), it
// is that directory itself and ".".
func (s *scope) object(arg string) (*dirfd.Dir, string, error) {
	en := parseEntry(arg)
	if !en.isEntry() || en.slash {
		d, err := s.openDir(arg)
		return d, ".", err
	}
	d, err := s.parent(en)
	return d, en.name, err
}

// openIfDir opens arg as a directory when it is one (following symlinks,
// as coreutils does for a destination operand) and returns nil, nil when
// it is not a directory or does not exist.
func (s *scope) openIfDir(arg string) (*dirfd.Dir, error) {
	d, err := s.openDir(arg)
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return d, err
}

// operandError says why arg could not be used, naming the root when it is
// one the operand escaped from.
func (s *scope) operandError(arg string, err error) error {
	if s.root != nil && errors.Is(err, dirfd.ErrEscape) {
		return &operandErr{fmt.Sprintf("%s: leads out of %s (%s), refused", quote(arg), quote(s.rootArg), s.rootFlag), err}
	}
	return operandError(arg, err)
}

// operandErr is a message about an operand that still matches the error
// it explains with errors.Is.
type operandErr struct {
	msg string
	err error
}

func (e *operandErr) Error() string { return e.msg }
func (e *operandErr) Unwrap() error { return e.err }

// operandError is "ARG: reason", with the operand quoted (see quote).
func operandError(arg string, err error) error {
	return &operandErr{fmt.Sprintf("%s: %s", quote(arg), explain(err)), err}
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

// below names, for messages, the object at walk path p below the operand
// arg, which reached the library as name (s.object): a tree operation
// names the objects it meets by paths that start with name.
func below(arg, name, p string) string {
	rel := strings.TrimPrefix(p, strings.TrimSuffix(name, "/"))
	if name == "." && p != "." {
		rel = "/" + p
	}
	if at := strings.TrimRight(arg, "/") + rel; at != "" {
		return at
	}
	return arg
}

// inDir names entry name of the directory operand dir for messages.
func inDir(dir, name string) string {
	if dir == "" {
		return name
	}
	return path.Join(dir, name)
}

// explain says why an operation failed, in words a shell user recognises,
// without the system call names and paths the library's errors carry.
func explain(err error) string {
	var conflict *fallback.ConflictError
	switch {
	case errors.As(err, &conflict):
		// Never lose track of an object: say where it is now.
		return fmt.Sprintf("%s; that object is now at %s in the same directory (the name was taken again meanwhile)", explain(conflict.Err), quote(conflict.Name))
	case errors.Is(err, dirfd.ErrEscape):
		return "escapes from the directory holding it"
	case errors.Is(err, dirfd.ErrChanged):
		return "it was replaced by another object while racefree worked on it; nothing was done to that object"
	}
	return innermost(err)
}

// innermost drops the *fs.PathError and *os.LinkError wrappings, which
// repeat the names. What remains is normally an errno's text; anything
// else (a joined error's newline, a name inside) is quoted.
func innermost(err error) string {
	for {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(err, &pe):
			err = pe.Err
		case errors.As(err, &le):
			err = le.Err
		default:
			return quote(err.Error())
		}
	}
}
