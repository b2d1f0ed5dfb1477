//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// The escape table: each case is one name, applied through a Dir to every
// operation that resolves a name, in every mode. The fixture is a directory
// holding "in" (the Dir's root) and "outside", a sibling tree of sentinels
// that nothing may touch; "$ROOT" in a case's tree is that directory, so a
// case can hold absolute symlinks to the real outside tree.

// baseTree is built for every (case, mode, operation), before the case's
// own lines.
const baseTree = `
	dir in
	dir in/d
	file in/d/f inside-f
	dir in/d/e
	file in/top top
	file in/src src
	dir outside
	file outside/secret SECRET
	chmod outside/secret 0600
	dir outside/sdir
	file outside/sdir/x X
	chmod outside/sdir 0750
	symlink outside/slink secret
`

// op is an operation the table applies a name to.
type op int

const (
	opOpen       op = iota // Open(name)
	opCreate               // OpenFile(name, O_CREATE|O_WRONLY, 0644), then writes "created"
	opStat                 // Stat(name)
	opLstat                // Lstat(name)
	opMkdir                // Mkdir(name, 0755)
	opRemove               // Remove(name)
	opSymlink              // Symlink("symlink-target", name)
	opRenameFrom           // Rename(name, "renamed")
	opRenameTo             // Rename("src", name), "src" being a regular file
	numOps
)

var opNames = [numOps]string{"Open", "Create", "Stat", "Lstat", "Mkdir", "Remove", "Symlink", "RenameFrom", "RenameTo"}

func (o op) String() string { return opNames[o] }

// outcomes holds the expected result of every op: nil for success,
// dirfd.ErrEscape, or an errno.
type outcomes [numOps]error

// wantOps lists outcomes in op order: Open, Create, Stat, Lstat, Mkdir,
// Remove, Symlink, RenameFrom, RenameTo.
func wantOps(open, create, stat, lstat, mkdir, remove, symlink, renameFrom, renameTo error) outcomes {
	return outcomes{open, create, stat, lstat, mkdir, remove, symlink, renameFrom, renameTo}
}

// everyOp expects e from every op.
func everyOp(e error) outcomes {
	var o outcomes
	for i := range o {
		o[i] = e
	}
	return o
}

// overrides replaces some outcomes of the Beneath expectation for a mode.
type overrides map[op]error

// followedOps overrides the ops that follow a final symlink (Open, Create,
// Stat); the others act on the link itself.
func followedOps(e error) overrides { return overrides{opOpen: e, opCreate: e, opStat: e} }

// allOps overrides every op.
func allOps(e error) overrides {
	o := overrides{}
	for i := range numOps {
		o[i] = e
	}
	return o
}

// Short names for the table.
var (
	okay      error = nil
	escapes         = dirfd.ErrEscape
	ENOENT          = unix.ENOENT
	ENOTDIR         = unix.ENOTDIR
	EISDIR          = unix.EISDIR
	EEXIST          = unix.EEXIST
	ELOOP           = unix.ELOOP
	EINVAL          = unix.EINVAL
	EBUSY           = unix.EBUSY
	ENOTEMPTY       = unix.ENOTEMPTY
)

// asOverrides turns full outcomes into overrides.
func asOverrides(o outcomes) overrides {
	m := overrides{}
	for i, e := range o {
		m[op(i)] = e
	}
	return m
}

type escapeCase struct {
	name    string // the behaviour
	tree    string // extra fixture lines
	path    string // the name given to every op
	beneath outcomes
	inRoot  overrides // differences from beneath in InRoot mode
	noSym   overrides // differences from beneath with NoSymlinks (Beneath mode)
}

// Outcomes that recur: a plain existing non-directory, and the same
// reached through a symlink that is followed.
var existingFile = wantOps(okay, okay, okay, okay, EEXIST, okay, EEXIST, okay, okay)

// The root itself, named by ".." or "/" in InRoot mode, as a chrooted
// process sees it: Mkdir and Symlink get EEXIST and Rename EBUSY from the
// kernel for a name that is not an entry; Rename onto a directory is EEXIST,
// as os.Rename decides before asking the kernel. Remove differs: rmdir says
// ENOTEMPTY for "..", EBUSY for "/".
func theRoot(remove error) overrides {
	return overrides{
		opOpen: okay, opCreate: EISDIR, opStat: okay, opLstat: okay, opMkdir: EEXIST,
		opRemove: remove, opSymlink: EEXIST, opRenameFrom: EBUSY, opRenameTo: EEXIST,
	}
}

var escapeCases = []escapeCase{
	{
		name:    "existing file at the top",
		path:    "top",
		beneath: existingFile,
	},
	{
		name:    "missing name at the top",
		path:    "new",
		beneath: wantOps(ENOENT, okay, ENOENT, ENOENT, okay, ENOENT, okay, ENOENT, okay),
	},
	{
		name:    "nested file",
		path:    "d/f",
		beneath: existingFile,
	},
	{
		name:    "dot components are ignored",
		path:    "./d/./f",
		beneath: existingFile,
	},
	{
		name:    "doubled slashes are ignored",
		path:    "d//f",
		beneath: existingFile,
	},
	{
		name:    "dotdot that stays inside",
		path:    "d/e/../f",
		beneath: existingFile,
	},
	{
		name:    "existing non-empty directory",
		path:    "d",
		beneath: wantOps(okay, EISDIR, okay, okay, EEXIST, ENOTEMPTY, EEXIST, okay, EEXIST),
	},
	{
		name:    "trailing slash on an empty directory",
		path:    "d/e/",
		beneath: wantOps(okay, EISDIR, okay, okay, EEXIST, okay, EEXIST, okay, EEXIST),
	},
	{
		// The kernel: a trailing slash demands a directory (ENOTDIR), O_CREAT
		// with one is EISDIR, and creating over an existing name is EEXIST
		// before the slash is looked at.
		name:    "trailing slash on a file",
		path:    "top/",
		beneath: wantOps(ENOTDIR, EISDIR, ENOTDIR, ENOTDIR, EEXIST, ENOTDIR, EEXIST, ENOTDIR, ENOTDIR),
	},
	{
		// Only mkdir may create "new/"; symlinkat refuses it with ENOENT and
		// renaming a file onto it with ENOTDIR.
		name:    "trailing slash on a missing name",
		path:    "new/",
		beneath: wantOps(ENOENT, EISDIR, ENOENT, ENOENT, okay, ENOENT, ENOENT, ENOENT, ENOTDIR),
	},
	{
		name:    "file where a directory is needed",
		path:    "top/x",
		beneath: everyOp(ENOTDIR),
	},
	{
		name:    "dotdot out of the top",
		path:    "../outside/secret",
		beneath: everyOp(escapes),
		inRoot:  allOps(ENOENT), // ".." stays at the top: in/outside does not exist
	},
	{
		name:    "dotdot chain out through subdirectories",
		path:    "d/e/../../../outside/secret",
		beneath: everyOp(escapes),
		inRoot:  allOps(ENOENT),
	},
	{
		name:    "dotdot out of the top then back in",
		path:    "../in/top",
		beneath: everyOp(escapes),
		inRoot:  allOps(ENOENT), // in/in does not exist
	},
	{
		name:    "dotdot alone",
		path:    "..",
		beneath: everyOp(escapes),
		inRoot:  theRoot(ENOTEMPTY),
	},
	{
		name:    "absolute name",
		path:    "/d/f",
		beneath: everyOp(escapes),
		inRoot:  asOverrides(existingFile), // starts at the top: d/f
	},
	{
		name:    "absolute name of the root",
		path:    "/",
		beneath: everyOp(escapes),
		inRoot:  theRoot(EBUSY),
	},
	{
		name:    "absolute name of the real outside file",
		tree:    "",
		path:    "$ROOT/outside/secret",
		beneath: everyOp(escapes),
		inRoot:  allOps(ENOENT),
	},
	{
		// A final "." names the directory itself, not an entry: the
		// kernel refuses to create, remove or rename it (EEXIST, EINVAL,
		// EBUSY).
		name:    "final dot component",
		path:    "d/e/.",
		beneath: wantOps(okay, EISDIR, okay, okay, EEXIST, EINVAL, EEXIST, EBUSY, EEXIST),
	},
	{
		// A final ".." likewise; rmdir says ENOTEMPTY for it.
		name:    "final dotdot component",
		path:    "d/e/..",
		beneath: wantOps(okay, EISDIR, okay, okay, EEXIST, ENOTEMPTY, EEXIST, EBUSY, EEXIST),
	},
	{
		name:    "symlink inside the tree",
		tree:    "symlink in/ln d/f",
		path:    "ln",
		beneath: existingFile,
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "symlink to a directory used mid-path",
		tree:    "symlink in/ld d",
		path:    "ld/f",
		beneath: existingFile,
		noSym:   allOps(ELOOP),
	},
	{
		name:    "symlink with dotdot that stays inside",
		tree:    "symlink in/d/up ..",
		path:    "d/up/top",
		beneath: existingFile,
		noSym:   allOps(ELOOP),
	},
	{
		name:    "relative symlink whose target climbs out",
		tree:    "symlink in/esc ../outside/secret",
		path:    "esc",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(ENOENT),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "relative symlink out, used mid-path",
		tree:    "symlink in/escd ../outside/sdir",
		path:    "escd/x",
		beneath: everyOp(escapes),
		inRoot:  allOps(ENOENT),
		noSym:   allOps(ELOOP),
	},
	{
		name:    "absolute symlink to an inside path",
		tree:    "symlink in/abs /d/f",
		path:    "abs",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(okay),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "absolute symlink to the real outside file",
		tree:    "symlink in/absout $ROOT/outside/secret",
		path:    "absout",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(ENOENT),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "absolute symlink to the real outside directory, mid-path",
		tree:    "symlink in/absd $ROOT/outside/sdir",
		path:    "absd/x",
		beneath: everyOp(escapes),
		inRoot:  allOps(ENOENT),
		noSym:   allOps(ELOOP),
	},
	{
		name:    "two-hop symlink chain that climbs out",
		tree:    "symlink in/hop1 d/hop2\nsymlink in/d/hop2 ../../outside/secret",
		path:    "hop1",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(ENOENT),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "symlink to the parent, mid-path",
		tree:    "symlink in/upl ..",
		path:    "upl/outside/secret",
		beneath: everyOp(escapes),
		inRoot:  allOps(ENOENT),
		noSym:   allOps(ELOOP),
	},
	{
		name:    "symlink to the root's parent's sentinel symlink",
		tree:    "symlink in/toslink ../outside/slink",
		path:    "toslink",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(ENOENT),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "symlink to the top directory itself",
		tree:    "symlink in/d/dot ..",
		path:    "d/dot/d/dot/top",
		beneath: existingFile,
		noSym:   allOps(ELOOP),
	},
	{
		name:    "absolute symlink to / used mid-path",
		tree:    "symlink in/rootl /",
		path:    "rootl/top",
		beneath: everyOp(escapes),
		inRoot:  asOverrides(existingFile),
		noSym:   allOps(ELOOP),
	},
	{
		// O_CREAT with a trailing slash is EISDIR before the last
		// component is looked at, also when the slash ends a symlink's
		// target.
		name:    "symlink to a file with a trailing slash",
		tree:    "symlink in/lfs top/",
		path:    "lfs",
		beneath: wantOps(ENOTDIR, EISDIR, ENOTDIR, okay, EEXIST, okay, EEXIST, okay, okay),
		noSym:   followedOps(ELOOP),
	},
	{
		// The kernel: O_CREAT through a symlink whose target ends in "/"
		// is EISDIR, as for the name "nothere/" itself.
		name:    "dangling symlink with a trailing slash",
		tree:    "symlink in/dangs nothere/",
		path:    "dangs",
		beneath: wantOps(ENOENT, EISDIR, ENOENT, okay, EEXIST, okay, EEXIST, okay, okay),
		noSym:   followedOps(ELOOP),
	},
	{
		// The target's parent is resolved before the slash is judged: an
		// escape is still an escape, a missing parent still ENOENT.
		name:    "dangling symlink out with a trailing slash",
		tree:    "symlink in/dangso ../outside/new/",
		path:    "dangso",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(ENOENT),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "dangling symlink into a missing directory with a trailing slash",
		tree:    "symlink in/dangsm missing/x/",
		path:    "dangsm",
		beneath: wantOps(ENOENT, ENOENT, ENOENT, okay, EEXIST, okay, EEXIST, okay, okay),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "symlink loop",
		tree:    "symlink in/loop loop2\nsymlink in/loop2 loop",
		path:    "loop",
		beneath: wantOps(ELOOP, ELOOP, ELOOP, okay, EEXIST, okay, EEXIST, okay, okay),
	},
	{
		name:    "self-referencing symlink mid-path",
		tree:    "symlink in/self self",
		path:    "self/x",
		beneath: everyOp(ELOOP),
	},
	{
		// O_CREAT through a dangling symlink creates its target, as
		// open(2) does.
		name:    "dangling symlink inside",
		tree:    "symlink in/dang nothere",
		path:    "dang",
		beneath: wantOps(ENOENT, okay, ENOENT, okay, EEXIST, okay, EEXIST, okay, okay),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "dangling symlink pointing outside",
		tree:    "symlink in/dangout ../outside/new",
		path:    "dangout",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(ENOENT),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "dangling absolute symlink to the real outside directory",
		tree:    "symlink in/dangabs $ROOT/outside/new",
		path:    "dangabs",
		beneath: wantOps(escapes, escapes, escapes, okay, EEXIST, okay, EEXIST, okay, okay),
		inRoot:  followedOps(ENOENT),
		noSym:   followedOps(ELOOP),
	},
	{
		name:    "symlink to a file where a directory is needed",
		tree:    "symlink in/lf top",
		path:    "lf/x",
		beneath: everyOp(ENOTDIR),
		noSym:   allOps(ELOOP),
	},
	{
		// A trailing slash makes open and stat follow the final symlink
		// (Lstat too), while unlink and rename act on the link and refuse
		// the slash on a non-directory. Rename onto "ld/" is EEXIST as
		// os.Rename says, having seen a directory there; with NoSymlinks
		// nothing is followed to see it, and renameat says ENOTDIR.
		name:    "trailing slash on a symlink to a directory",
		tree:    "symlink in/ld d/e",
		path:    "ld/",
		beneath: wantOps(okay, EISDIR, okay, okay, EEXIST, ENOTDIR, EEXIST, ENOTDIR, EEXIST),
		noSym:   overrides{opOpen: ELOOP, opStat: ELOOP, opLstat: ELOOP, opRenameTo: ENOTDIR},
	},
	{
		name:    "trailing slash on a symlink to a file",
		tree:    "symlink in/ln top",
		path:    "ln/",
		beneath: wantOps(ENOTDIR, EISDIR, ENOTDIR, ENOTDIR, EEXIST, ENOTDIR, EEXIST, ENOTDIR, ENOTDIR),
		noSym:   overrides{opOpen: ELOOP, opStat: ELOOP, opLstat: ELOOP},
	},
	{
		// os.Root's order of checks: following a final symlink for the
		// trailing slash leaves the tree, and that is reported before
		// anything else (EISDIR for O_CREAT, ENOTDIR or EEXIST from the
		// entry calls, which do not follow it).
		name:    "trailing slash on a symlink that climbs out to a directory",
		tree:    "symlink in/escs ../outside/sdir",
		path:    "escs/",
		beneath: everyOp(escapes),
		inRoot:  asOverrides(wantOps(ENOENT, EISDIR, ENOENT, ENOENT, EEXIST, ENOTDIR, EEXIST, ENOTDIR, ENOTDIR)),
		noSym:   asOverrides(wantOps(ELOOP, EISDIR, ELOOP, ELOOP, EEXIST, ENOTDIR, EEXIST, ENOTDIR, ENOTDIR)),
	},
	{
		name:    "trailing slash on an absolute symlink to the real outside file",
		tree:    "symlink in/escf $ROOT/outside/secret",
		path:    "escf/",
		beneath: everyOp(escapes),
		inRoot:  asOverrides(wantOps(ENOENT, EISDIR, ENOENT, ENOENT, EEXIST, ENOTDIR, EEXIST, ENOTDIR, ENOTDIR)),
		noSym:   asOverrides(wantOps(ELOOP, EISDIR, ELOOP, ELOOP, EEXIST, ENOTDIR, EEXIST, ENOTDIR, ENOTDIR)),
	},
	{
		// The walk used to answer EISDIR for O_CREAT with a trailing slash
		// before looking at the name; openat2 reports the escape.
		name:    "dotdot with a trailing slash",
		path:    "../",
		beneath: everyOp(escapes),
		inRoot:  theRoot(ENOTEMPTY),
	},
	{
		// The slash at the end of the target only asks for a directory:
		// ".." then leaves sub, and d/ls/../f is d/f.
		name:    "dotdot after a symlink whose target ends in a slash",
		tree:    "dir in/d/sub\nsymlink in/d/ls sub/",
		path:    "d/ls/../f",
		beneath: existingFile,
		noSym:   allOps(ELOOP),
	},
	{
		// ld leads to d itself, so d/ld/.. is the top and d/ld/../f is
		// the missing f at the top, not d/f.
		name:    "dotdot after a symlink to dot",
		tree:    "symlink in/d/ld .",
		path:    "d/ld/../f",
		beneath: wantOps(ENOENT, okay, ENOENT, ENOENT, okay, ENOENT, okay, ENOENT, okay),
		noSym:   allOps(ELOOP),
	},
	{
		// ".." after a symlink applies to where the link led (d/e), as in
		// the kernel, not lexically: ld/../top is d/top, which is missing.
		name:    "dotdot after a symlink is physical",
		tree:    "symlink in/ld d/e",
		path:    "ld/../top",
		beneath: wantOps(ENOENT, okay, ENOENT, ENOENT, okay, ENOENT, okay, ENOENT, okay),
		noSym:   allOps(ELOOP),
	},
}

// modes are the Dir configurations the table is run in.
var modes = []escapeMode{
	{"Beneath", []dirfd.Option{dirfd.Beneath()}, func(escapeCase) overrides { return nil }, false, false},
	{"InRoot", []dirfd.Option{dirfd.InRoot()}, func(c escapeCase) overrides { return c.inRoot }, true, false},
	{"NoSymlinks", []dirfd.Option{dirfd.NoSymlinks()}, func(c escapeCase) overrides { return c.noSym }, false, true},
}

type escapeMode struct {
	name               string
	opts               []dirfd.Option
	pick               func(c escapeCase) overrides
	inRoot, noSymlinks bool // for asking openat2 the same
}

// kernelOps are the table's operations that only look a name up, with the
// name kernelFlags knows their lookup by: for them the table also asks
// openat2 itself on the same tree, whichever resolver the profile uses.
var kernelOps = map[op]string{opOpen: "Open", opStat: "Stat", opLstat: "Lstat"}

func (c escapeCase) expect(o overrides) outcomes {
	w := c.beneath
	for k, v := range o {
		w[k] = v
	}
	return w
}

// fixture builds baseTree and the case's lines in a fresh directory (from
// t.TempDir) and returns that directory and the case's path with $ROOT
// expanded.
func (c escapeCase) fixture(t testing.TB) (parent, path string) {
	t.Helper()
	parent = t.TempDir()
	buildTree(t, parent, baseTree+"\n"+c.tree)
	return parent, expandRoot(c.path, parent)
}

func expandRoot(s, root string) string {
	if len(s) >= 5 && s[:5] == "$ROOT" {
		return root + s[5:]
	}
	return s
}

// reusableFixture hands out a case's fixture and rebuilds it only after an
// operation changed it: building and removing trees is most of the table's
// cost, and an operation that failed or only read left the tree as built
// (which runEscapeCase checks).
type reusableFixture struct {
	c        escapeCase
	t        testing.TB // owner of the temporary directories
	parent   string
	path     string
	outside  map[string]entry
	inside   map[string]entry
	outInode map[[2]uint64]string
}

func (f *reusableFixture) get() {
	if f.parent != "" {
		return
	}
	f.parent, f.path = f.c.fixture(f.t)
	f.outside = snapshot(f.t, f.parent, "in")
	f.inside = snapshot(f.t, filepath.Join(f.parent, "in"))
	f.outInode = inodes(f.t, filepath.Join(f.parent, "outside"))
}

func TestEscapeTable(t *testing.T) {
	if len(escapeCases) < 25 {
		t.Fatalf("the table has %d cases, want at least 25", len(escapeCases))
	}
	for _, c := range escapeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, m := range modes {
				expected := c.expect(m.pick(c))
				t.Run(m.name, func(t *testing.T) {
					fx := &reusableFixture{c: c, t: t}
					for o := range numOps {
						t.Run(o.String(), func(t *testing.T) {
							runEscapeCase(t, fx, m, o, expected[o])
						})
					}
				})
			}
		})
	}
}

func runEscapeCase(t *testing.T, fx *reusableFixture, m escapeMode, o op, want error) {
	fx.get()
	parent, path := fx.parent, fx.path
	in := filepath.Join(parent, "in")

	d, err := dirfd.Open(in, m.opts...)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := applyDir(d, o, path)
	if cerr := d.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}

	checkOutcome(t, fmt.Sprintf("%v(%q)", o, path), err, want)
	checkAgainstKernel(t, in, m, o, path, fi, err)
	if err == nil && fi != nil {
		// Whatever was reached must be an object of the inside tree.
		if ino, ok := inodeOf(fi); ok {
			if where, out := fx.outInode[ino]; out {
				t.Errorf("%v(%q) reached %s, outside the tree", o, path, where)
			}
		}
	}
	outsideAfter := snapshot(t, parent, "in")
	if diff := cmp.Diff(fx.outside, outsideAfter); diff != "" {
		t.Errorf("%v(%q) changed the outside tree (-before +after):\n%s", o, path, diff)
	}
	insideAfter := snapshot(t, in)
	insideDiff := cmp.Diff(fx.inside, insideAfter)
	if err != nil && insideDiff != "" {
		// A failed operation has no partial effect inside either.
		t.Errorf("%v(%q) failed with %v but changed the tree (-before +after):\n%s", o, path, err, insideDiff)
	}
	if insideDiff != "" || !cmp.Equal(fx.outside, outsideAfter) || t.Failed() {
		fx.parent = "" // the next op gets a fresh fixture
	}
}

// checkAgainstKernel compares the outcome of an operation that only looks
// a name up (see kernelOps) with openat2's own lookup of it in root, on
// the tree the operation ran on: the same error class, or the same object.
func checkAgainstKernel(t *testing.T, root string, m escapeMode, o op, path string, fi fs.FileInfo, err error) {
	t.Helper()
	kop, lookup := kernelOps[o]
	if !lookup {
		return
	}
	kino, ok, kerr := kernelLookup(t, root, path, kernelFlags[kop], m.inRoot, m.noSymlinks)
	switch {
	case !ok:
	case outcomeClass(kerr) != outcomeClass(err):
		t.Errorf("%v(%q) = %v, but openat2 on the same tree gives %v", o, path, err, kerr)
	case err == nil:
		if ino, _ := inodeOf(fi); ino != kino {
			t.Errorf("%v(%q) reached another object than openat2 on the same tree", o, path)
		}
	}
}

// checkOutcome compares an error with an expected outcome and checks that
// errors come in the types os uses.
func checkOutcome(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s = %v, want success", what, err)
	case want != nil && err == nil:
		t.Errorf("%s succeeded, want %s", what, describe(want))
	case want != nil && !errors.Is(err, want):
		t.Errorf("%s = %v, want %s", what, err, describe(want))
	}
	if err != nil {
		var pe *fs.PathError
		var le *os.LinkError
		if !errors.As(err, &pe) && !errors.As(err, &le) {
			t.Errorf("%s = %v (%T), want a *fs.PathError or *os.LinkError", what, err, err)
		}
		if errors.Is(err, dirfd.ErrEscape) && want != dirfd.ErrEscape {
			t.Errorf("%s reports an escape (%v) where none is expected", what, err)
		}
	}
}

func describe(e error) string {
	var errno syscall.Errno
	if errors.As(e, &errno) {
		return fmt.Sprintf("%s (%v)", unix.ErrnoName(errno), e)
	}
	return fmt.Sprintf("%q", e)
}

// applyDir runs op on name through d. For ops that reach an object it
// returns that object's FileInfo, for the containment check.
func applyDir(d *dirfd.Dir, o op, name string) (fs.FileInfo, error) {
	switch o {
	case opOpen:
		f, err := d.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return f.Stat()
	case opCreate:
		f, err := d.OpenFile(name, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if _, err := f.Write([]byte("created")); err != nil {
			return nil, err
		}
		return f.Stat()
	case opStat:
		return d.Stat(name)
	case opLstat:
		return d.Lstat(name)
	case opMkdir:
		return nil, d.Mkdir(name, 0o755)
	case opRemove:
		return nil, d.Remove(name)
	case opSymlink:
		return nil, d.Symlink("symlink-target", name)
	case opRenameFrom:
		return nil, d.Rename(name, "renamed")
	case opRenameTo:
		return nil, d.Rename("src", name)
	}
	panic("unknown op")
}
