//go:build unix

package fstests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/opath"
)

// The conformance suite has one sub-test per dirfd.Dir method, package
// function and option. They share one fresh directory below the caller's
// (os.MkdirTemp(dir, "conf-")), which holds "outside", the sentinel tree
// that nothing may change, and one directory per sub-test, its root: the
// tree its Dirs are opened on, built anew from fixture and removed when the
// sub-test ends.
//
// A method's sub-test first gives each of its name arguments every bad name
// of badNames, on the open Dir and then on a closed one, and checks the
// error and that the tree stayed as it was; then it checks what the method
// promises (conformance_methods_unix.go, conformance_dir_unix.go). Where
// the outcome depends on the kernel, the filesystem or the capability
// profile, the expectation comes from the capability report of the root's
// filesystem (ProbeDir), and the method must do exactly what the report
// says: use the primitive where the report has it, and give the documented
// fallback or error where it has not. The report is asked after the call
// where the call may learn what the filesystem lacks (a method must work
// on its first call, before anything has been learned), and before it where
// it decides between a sequence and a Strict refusal. The Capabilities
// sub-test compares the report with what the kernel does when asked
// directly. A report that is wrong about the user's filesystem fails here.

// method is one sub-test of the suite.
type method struct {
	name  string
	calls []call       // the method applied to one name, for badNames
	check func(*scene) // what the method promises
}

// call applies a method to one name, the other arguments being good ones.
type call struct {
	label string
	do    func(s *scene, d *dirfd.Dir, name string) error
	link  bool // the method's errors are *os.LinkError rather than *fs.PathError
	// except holds the rows of badNames with another outcome for this
	// call; nil means success.
	except map[string]error
}

// badNames are refused by every method, whatever the argument: each row
// fails while resolving the name, before the method's own work. The
// escapes aim at outside/f, which exists, so a containment bug would act on
// it and show in the sentinel as well.
var badNames = []struct {
	label, name string
	want        error
}{
	{"empty", "", fs.ErrInvalid},
	{"NUL byte", "f\x00g", fs.ErrInvalid},
	{"absolute", "/f", dirfd.ErrEscape},
	{"dotdot", "../outside/f", dirfd.ErrEscape},
	{"dotdot from a subdirectory", "d/../../outside/f", dirfd.ErrEscape},
	{"relative symlink out", "up/f", dirfd.ErrEscape},
	{"absolute symlink out", "abs/f", dirfd.ErrEscape},
	{"longer than PATH_MAX", strings.Repeat("d/", 2048) + "g", syscall.ENAMETOOLONG},
	{"component longer than NAME_MAX", strings.Repeat("n", 256) + "/x", syscall.ENAMETOOLONG},
	{"symlink loop", "loop/x", syscall.ELOOP},
	{"missing directory", "missing/x", fs.ErrNotExist},
	{"file as directory", "f/x", syscall.ENOTDIR},
}

// fixture is the tree every scene's root starts with. A name ending in "/"
// is a directory, an entry with a link a symlink ("$OUT" being the
// sentinel's absolute path), any other a file holding data.
var fixture = []struct{ name, data, link string }{
	{name: "d/"},
	{name: "d/g", data: "G"},
	{name: "e/"},
	{name: "f", data: "F"},
	{name: "lf", link: "f"},
	{name: "ld", link: "d"},
	{name: "dangle", link: "missing"},
	{name: "loop", link: "loop"},
	{name: "up", link: "../outside"},
	{name: "abs", link: "$OUT"},
}

// fixtureNames is ReadDir(".") of the fixture.
var fixtureNames = []string{"abs", "d", "dangle", "e", "f", "ld", "lf", "loop", "up"}

// conformance runs the suite's sub-tests in dir: all of them, or those
// named in only.
func conformance(t *testing.T, dir string, only ...string) {
	top, err := os.MkdirTemp(dir, "conf-")
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	t.Cleanup(func() { removeScene(t, top) })
	out := newSentinel(t, top)
	for _, m := range methods {
		if len(only) > 0 && !slices.Contains(only, m.name) {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			s := newScene(t, top, m.name, out)
			s.badNames(m.calls)
			m.check(s)
		})
	}
}

// scene is one sub-test's tree, beside the sentinel it shares with the
// others. Fixtures are made and checked through r, an os.Root on the same
// directory: never through the package under test, and without resolving
// the whole path from "/" at every step, which costs a round trip per
// component on a FUSE or network filesystem.
type scene struct {
	t    *testing.T
	dir  string     // the suite's directory, holding every root and the sentinel
	root string     // dir/NAME, the tree the Dirs are opened on
	out  *sentinel  // dir/outside
	r    *os.Root   // on root
	d    *dirfd.Dir // on root, default options
}

func newScene(t *testing.T, dir, name string, out *sentinel) *scene {
	t.Helper()
	s := &scene{t: t, dir: dir, root: filepath.Join(dir, strings.NewReplacer("(", "-", ")", "").Replace(name)), out: out}
	s.must(os.Mkdir(s.root, 0o755))
	t.Cleanup(func() {
		removeScene(t, s.root)
		if c := out.changes(); len(c) > 0 {
			t.Errorf("the tree outside the Dir changed: %s", strings.Join(c, "; "))
			// Reported once: the next sub-test starts from what is there.
			out.snap, _ = out.record(nil)
		}
	})
	var err error
	s.r, err = os.OpenRoot(s.root)
	s.must(err)
	t.Cleanup(func() { s.r.Close() })
	for _, e := range fixture {
		switch {
		case strings.HasSuffix(e.name, "/"):
			err = s.r.Mkdir(e.name, 0o755)
		case e.link != "":
			err = s.r.Symlink(strings.ReplaceAll(e.link, "$OUT", out.dir), e.name)
		default:
			err = s.r.WriteFile(e.name, []byte(e.data), 0o644)
		}
		s.must(err)
	}
	s.d = s.open()
	return s
}

// badNames runs every call with every bad name, then on a closed Dir.
func (s *scene) badNames(calls []call) {
	s.t.Helper()
	if len(calls) == 0 {
		return
	}
	closed := s.open()
	s.must(closed.Close())
	before := s.snapshot()
	for _, c := range calls {
		for _, b := range badNames {
			want, ok := c.except[b.label]
			if !ok {
				want = b.want
			}
			err := c.do(s, s.d, b.name)
			what := fmt.Sprintf("%s with %s %.40q", c.label, b.label, b.name)
			if s.expect(what, err, want) && err != nil {
				s.errType(what, err, c.link)
			}
			if want == nil {
				// The only rows that succeed (MkdirAll) make "missing".
				s.must(s.r.RemoveAll("missing"))
			}
		}
		err := c.do(s, closed, "f")
		if s.expect(c.label+" on a closed Dir", err, fs.ErrClosed) {
			s.errType(c.label+" on a closed Dir", err, c.link)
		}
		if after := s.snapshot(); after != before {
			s.t.Errorf("%s with bad names changed the tree:\nbefore:\n%s\nafter:\n%s", c.label, before, after)
			before = after
		}
	}
}

func (s *scene) errType(what string, err error, link bool) {
	s.t.Helper()
	var le *os.LinkError
	var pe *fs.PathError
	switch {
	case link && !errors.As(err, &le):
		s.t.Errorf("%s: error %v is a %T, want an *os.LinkError", what, err, err)
	case !link && !errors.As(err, &pe):
		s.t.Errorf("%s: error %v is a %T, want an *fs.PathError", what, err, err)
	}
}

// snapshot describes root's tree: names, types, modes, sizes, identities
// and link targets, not times (a refused call may have made and removed a
// stage, which touches the directory's times and nothing else).
func (s *scene) snapshot() string {
	var b strings.Builder
	var walk func(dir string)
	walk = func(dir string) {
		for _, e := range s.readDir(dir) {
			name := path.Join(dir, e.Name())
			fi, err := s.r.Lstat(name)
			s.must(err)
			id, _ := idOf(fi)
			fmt.Fprintf(&b, "%s %v %d %v", name, fi.Mode(), fi.Size(), id)
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				target, _ := s.r.Readlink(name)
				fmt.Fprintf(&b, " -> %s", target)
			case fi.IsDir():
				walk(name)
			}
			b.WriteByte('\n')
		}
	}
	walk(".")
	return b.String()
}

// in is the scene as seen from t, a sub-test of its own.
func (s *scene) in(t *testing.T) *scene {
	c := *s
	c.t = t
	return &c
}

// open opens a Dir on root, closed when the sub-test ends.
func (s *scene) open(opts ...dirfd.Option) *dirfd.Dir {
	s.t.Helper()
	d, err := dirfd.Open(s.root, opts...)
	s.must(err)
	s.t.Cleanup(func() { d.Close() })
	return d
}

// variant is the scene's Dir, or a Strict one, with a suffix for names
// that keeps the two rounds of a check apart.
func (s *scene) variant(strict bool) (*dirfd.Dir, string) {
	if strict {
		return s.open(dirfd.Strict()), "-strict"
	}
	return s.d, ""
}

// handle opens a handle on name through the scene's Dir, closed when the
// sub-test ends.
func (s *scene) handle(name string) *opath.Handle {
	s.t.Helper()
	h, err := s.d.OpenHandle(name)
	s.must(err)
	s.t.Cleanup(func() { h.Close() })
	return h
}

// caps is what capability says the scene's filesystem has, probed on it.
func (s *scene) caps() capability.Report {
	s.t.Helper()
	r, err := capability.ProbeDir(int(s.d.Fd()))
	s.must(err)
	return r
}

func (s *scene) path(name string) string { return filepath.Join(s.root, name) }

func (s *scene) must(err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("fstests: %v", err)
	}
}

// expect checks that err is want (nil: success) and reports whether it was.
func (s *scene) expect(what string, err, want error) bool {
	s.t.Helper()
	switch {
	case want == nil && err != nil:
		s.t.Errorf("%s: %v, want success", what, err)
		return false
	case want != nil && !errors.Is(err, want):
		s.t.Errorf("%s = %v, want an error matching %s", what, err, errName(want))
		return false
	}
	return true
}

// errName names an expected error as the documentation does.
func errName(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	for _, e := range []struct {
		err  error
		name string
	}{
		{fs.ErrInvalid, "fs.ErrInvalid"}, {fs.ErrNotExist, "fs.ErrNotExist"}, {fs.ErrExist, "fs.ErrExist"},
		{fs.ErrPermission, "fs.ErrPermission"}, {fs.ErrClosed, "fs.ErrClosed"}, {errors.ErrUnsupported, "errors.ErrUnsupported"},
		{dirfd.ErrEscape, "dirfd.ErrEscape"}, {dirfd.ErrChanged, "dirfd.ErrChanged"},
	} {
		if err == e.err {
			return e.name
		}
	}
	return err.Error()
}

// nameErr and pairErr are expected outcomes of calls on one or two names.
type nameErr struct {
	name string
	want error
}

type pairErr struct {
	old, new string
	want     error
}

func (s *scene) each(label string, f func(name string) error, cases ...nameErr) {
	s.t.Helper()
	for _, c := range cases {
		s.expect(fmt.Sprintf("%s(%q)", label, c.name), f(c.name), c.want)
	}
}

func (s *scene) pairs(label string, f func(old, new string) error, cases ...pairErr) {
	s.t.Helper()
	for _, c := range cases {
		s.expect(fmt.Sprintf("%s(%q, %q)", label, c.old, c.new), f(c.old, c.new), c.want)
	}
}

// file and mkdir make fixtures through r, never through the Dir under
// test.
func (s *scene) file(name, data string) {
	s.t.Helper()
	s.must(s.r.WriteFile(name, []byte(data), 0o644))
}

func (s *scene) mkdir(name string) {
	s.t.Helper()
	s.must(s.r.Mkdir(name, 0o755))
}

// content checks name's content.
func (s *scene) content(name, want string) {
	s.t.Helper()
	b, err := s.r.ReadFile(name)
	if err != nil || string(b) != want {
		s.t.Errorf("%s holds %q (%v), want %q", name, b, err, want)
	}
}

// kind checks what name is (lstat by path): fs.ModeDir, fs.ModeSymlink, 0
// for a regular file.
func (s *scene) kind(name string, want fs.FileMode) {
	s.t.Helper()
	fi, err := s.r.Lstat(name)
	if err != nil {
		s.t.Errorf("%s: %v", name, err)
	} else if fi.Mode().Type() != want {
		s.t.Errorf("%s: type %v, want %v", name, fi.Mode().Type(), want)
	}
}

func (s *scene) exists(name string, want bool) {
	s.t.Helper()
	_, err := s.r.Lstat(name)
	switch {
	case want && err != nil:
		s.t.Errorf("%s is missing: %v", name, err)
	case !want && err == nil:
		s.t.Errorf("%s exists, want it gone", name)
	case !want && !errors.Is(err, fs.ErrNotExist):
		s.t.Errorf("%s: %v", name, err)
	}
}

// id is the identity of name (lstat by path).
func (s *scene) id(name string) devIno {
	s.t.Helper()
	fi, err := s.r.Lstat(name)
	s.must(err)
	id, _ := idOf(fi)
	return id
}

// is checks that fi describes the object at name.
func (s *scene) is(what string, fi fs.FileInfo, name string) {
	s.t.Helper()
	if got, _ := idOf(fi); got != s.id(name) {
		s.t.Errorf("%s is %v, want %s (%v)", what, got, name, s.id(name))
	}
}

func (s *scene) perm(name string, want fs.FileMode) {
	s.t.Helper()
	fi, err := s.r.Lstat(name)
	if err != nil {
		s.t.Errorf("%s: %v", name, err)
	} else if fi.Mode().Perm() != want {
		s.t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
	}
}

// osPerm is the permission os gives a new file or directory created with
// perm here: perm less the umask (and whatever default ACL applies), found
// without changing the process umask under other goroutines.
func (s *scene) osPerm(perm fs.FileMode, dir bool) fs.FileMode {
	s.t.Helper()
	const ref = "perm-reference"
	if dir {
		s.must(s.r.Mkdir(ref, perm))
	} else {
		f, err := s.r.OpenFile(ref, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
		s.must(err)
		f.Close()
	}
	fi, err := s.r.Lstat(ref)
	s.must(errors.Join(err, s.r.Remove(ref)))
	return fi.Mode().Perm()
}

// noStaging checks that no staging directory is left in dir (in root),
// but for an empty stage that an open Dir of this process keeps for reuse
// (DESIGN.md S3): between operations it must hold nothing (S2).
func (s *scene) noStaging(dir string) {
	s.t.Helper()
	for _, e := range s.readDir(dir) {
		if !strings.HasPrefix(e.Name(), staging.Prefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && e.IsDir() && isLive(fi) && len(s.readDir(filepath.Join(dir, e.Name()))) == 0 {
			continue
		}
		s.t.Errorf("staging directory left behind: %s", filepath.Join(dir, e.Name()))
	}
}

// isLive reports whether fi describes a private directory this process
// is using.
func isLive(fi fs.FileInfo) bool {
	id, ok := idOf(fi)
	return ok && staging.Live(id.dev, id.ino)
}

// readDir lists dir (in root) through r.
func (s *scene) readDir(dir string) []fs.DirEntry {
	s.t.Helper()
	f, err := s.r.Open(dir)
	s.must(err)
	entries, err := f.ReadDir(-1)
	s.must(errors.Join(err, f.Close()))
	return entries
}

// cloexec checks G4 on a descriptor the Dir handed out.
func (s *scene) cloexec(what string, f interface{ Fd() uintptr }) {
	s.t.Helper()
	flags, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		s.t.Errorf("%s: descriptor is not close-on-exec (flags %#x, %v)", what, flags, err)
	}
}

func closeFile(f *os.File, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}

func closeDir(d *dirfd.Dir, err error) error {
	if err == nil {
		d.Close()
	}
	return err
}

func closeHandle(h *opath.Handle, err error) error {
	if err == nil {
		h.Close()
	}
	return err
}

// discard closes an AtomicFile without committing it.
func discard(f *dirfd.AtomicFile, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}

// one is the call of a method with one name argument.
func one(label string, do func(d *dirfd.Dir, name string) error) []call {
	return []call{{label: label, do: func(_ *scene, d *dirfd.Dir, n string) error { return do(d, n) }}}
}

// two is the calls of a method with two name arguments, with good names
// "f" (old) and "new" (new) in the other position.
func two(label string, do func(s *scene, d *dirfd.Dir, old, new string) error) []call {
	return []call{
		{label: label + "(old)", link: true, do: func(s *scene, d *dirfd.Dir, n string) error { return do(s, d, n, "new") }},
		{label: label + "(new)", link: true, do: func(s *scene, d *dirfd.Dir, n string) error { return do(s, d, "f", n) }},
	}
}

// epoch is a time every filesystem can store exactly.
var epoch = time.Unix(1_000_000_000, 0)

// errBuild is what the Install builds of badNames return: they must not
// be called at all.
var errBuild = errors.New("build called for a name that should have been refused")

func noBuild(*dirfd.Dir) error { return errBuild }
