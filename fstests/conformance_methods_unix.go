//go:build unix

package fstests

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/opath"
)

// methods is the suite, in the order it runs. The verified operations
// come before RenameNoReplace and Exchange so that, in a process that has
// not used this filesystem yet, they are the first to meet its rename
// flags.
var methods = []method{
	{name: "Open", check: checkOpen, calls: one("Open", func(d *dirfd.Dir, n string) error { return closeFile(d.Open(n)) })},
	{name: "OpenFile", check: checkOpenFile, calls: one("OpenFile", func(d *dirfd.Dir, n string) error {
		return closeFile(d.OpenFile(n, os.O_RDWR|os.O_CREATE, 0o644))
	})},
	{name: "Create", check: checkCreate, calls: one("Create", func(d *dirfd.Dir, n string) error { return closeFile(d.Create(n)) })},
	{name: "OpenDir", check: checkOpenDir, calls: one("OpenDir", func(d *dirfd.Dir, n string) error { return closeDir(d.OpenDir(n)) })},
	{name: "OpenHandle", check: checkOpenHandle, calls: one("OpenHandle", func(d *dirfd.Dir, n string) error { return closeHandle(d.OpenHandle(n)) })},
	{name: "Stat", check: checkStat, calls: one("Stat", func(d *dirfd.Dir, n string) error { _, err := d.Stat(n); return err })},
	{name: "Lstat", check: checkLstat, calls: one("Lstat", func(d *dirfd.Dir, n string) error { _, err := d.Lstat(n); return err })},
	{name: "Mkdir", check: checkMkdir, calls: one("Mkdir", func(d *dirfd.Dir, n string) error { return d.Mkdir(n, 0o755) })},
	{name: "MkdirAll", check: checkMkdirAll, calls: []call{{
		label:  "MkdirAll",
		do:     func(_ *scene, d *dirfd.Dir, n string) error { return d.MkdirAll(n, 0o755) },
		except: map[string]error{"missing directory": nil},
	}}},
	{name: "Remove", check: checkRemove, calls: one("Remove", func(d *dirfd.Dir, n string) error { return d.Remove(n) })},
	{name: "RemoveAll", check: checkRemoveAll, calls: []call{{
		label:  "RemoveAll",
		do:     func(_ *scene, d *dirfd.Dir, n string) error { return d.RemoveAll(n) },
		except: map[string]error{"missing directory": nil},
	}}},
	{name: "Rename", check: checkRename, calls: two("Rename", func(_ *scene, d *dirfd.Dir, o, n string) error { return d.Rename(o, n) })},
	{name: "RemoveIfSame", check: checkRemoveIfSame, calls: []call{{
		label: "RemoveIfSame",
		do:    func(s *scene, d *dirfd.Dir, n string) error { return d.RemoveIfSame(n, s.handle("f")) },
	}}},
	{name: "RenameIfSame", check: checkRenameIfSame, calls: two("RenameIfSame", func(s *scene, d *dirfd.Dir, o, n string) error {
		return d.RenameIfSame(o, s.handle("f"), n)
	})},
	{name: "RenameNoReplace", check: checkRenameNoReplace, calls: two("RenameNoReplace", func(_ *scene, d *dirfd.Dir, o, n string) error {
		return d.RenameNoReplace(o, n)
	})},
	{name: "Exchange", check: checkExchange, calls: two("Exchange", func(_ *scene, d *dirfd.Dir, o, n string) error { return d.Exchange(o, n) })},
	{name: "Link", check: checkLink, calls: two("Link", func(_ *scene, d *dirfd.Dir, o, n string) error { return d.Link(o, n) })},
	{name: "LinkHandle", check: checkLinkHandle, calls: []call{{
		label: "LinkHandle",
		link:  true,
		do:    func(s *scene, d *dirfd.Dir, n string) error { return d.LinkHandle(s.handle("f"), n) },
	}}},
	{name: "Symlink", check: checkSymlink, calls: []call{{
		label: "Symlink",
		link:  true,
		do:    func(_ *scene, d *dirfd.Dir, n string) error { return d.Symlink("f", n) },
	}}},
	{name: "Readlink", check: checkReadlink, calls: one("Readlink", func(d *dirfd.Dir, n string) error { _, err := d.Readlink(n); return err })},
	{name: "ReplaceSymlink", check: checkReplaceSymlink, calls: []call{{
		label: "ReplaceSymlink",
		link:  true,
		do:    func(_ *scene, d *dirfd.Dir, n string) error { return d.ReplaceSymlink("f", n) },
	}}},
	{name: "ReplaceLink", check: checkReplaceLink, calls: two("ReplaceLink", func(_ *scene, d *dirfd.Dir, o, n string) error { return d.ReplaceLink(o, n) })},
	{name: "WriteFile", check: checkWriteFile, calls: one("WriteFile", func(d *dirfd.Dir, n string) error { return d.WriteFile(n, []byte("W"), 0o644) })},
	{name: "ReadFile", check: checkReadFile, calls: one("ReadFile", func(d *dirfd.Dir, n string) error { _, err := d.ReadFile(n); return err })},
	{name: "ReadDir", check: checkReadDir, calls: one("ReadDir", func(d *dirfd.Dir, n string) error { _, err := d.ReadDir(n); return err })},
	{name: "CreateAtomic", check: checkCreateAtomic, calls: one("CreateAtomic", func(d *dirfd.Dir, n string) error { return discard(d.CreateAtomic(n, 0o644)) })},
	{name: "Install", check: checkInstall, calls: append(
		one("Install", func(d *dirfd.Dir, n string) error { return d.Install(n, noBuild) }),
		// "e", an existing directory, so that an ignored KeepPrevious
		// name would have something to lose.
		one("Install(KeepPrevious)", func(d *dirfd.Dir, n string) error { return d.Install("e", noBuild, dirfd.KeepPrevious(n)) })...,
	)},
	{name: "RemoveStale", check: checkRemoveStale},
	{name: "Chmod", check: checkChmod, calls: one("Chmod", func(d *dirfd.Dir, n string) error { return d.Chmod(n, 0o600) })},
	{name: "Chown", check: checkChown, calls: one("Chown", func(d *dirfd.Dir, n string) error { return d.Chown(n, -1, -1) })},
	{name: "Lchown", check: checkLchown, calls: one("Lchown", func(d *dirfd.Dir, n string) error { return d.Lchown(n, -1, -1) })},
	{name: "Chtimes", check: checkChtimes, calls: one("Chtimes", func(d *dirfd.Dir, n string) error { return d.Chtimes(n, epoch, epoch) })},
	{name: "FS", check: checkFS, calls: []call{
		{label: "FS.Open", do: func(_ *scene, d *dirfd.Dir, n string) error {
			f, err := d.FS().Open(n)
			return closeFile(asFile(f), err)
		}, except: fsInvalid},
		{label: "FS.Stat", do: func(_ *scene, d *dirfd.Dir, n string) error { _, err := fs.Stat(d.FS(), n); return err }, except: fsInvalid},
		{label: "FS.ReadLink", do: func(_ *scene, d *dirfd.Dir, n string) error { _, err := fs.ReadLink(d.FS(), n); return err }, except: fsInvalid},
	}},
	{name: "Capabilities", check: checkCapabilities},
	{name: "Name", check: checkName},
	{name: "Fd", check: checkFd},
	{name: "Close", check: checkClose},
	{name: "FromFile", check: checkFromFile},
	{name: "Open(package)", check: checkOpenPackage},
	{name: "Beneath", check: checkBeneath},
	{name: "InRoot", check: checkInRoot},
	{name: "NoSymlinks", check: checkNoSymlinks},
	{name: "NoXDev", check: checkNoXDev},
	{name: "Strict", check: checkStrict},
}

// fsInvalid: names that fs.ValidPath refuses are fs.ErrInvalid in FS,
// before any lookup.
var fsInvalid = map[string]error{
	"absolute":                   fs.ErrInvalid,
	"dotdot":                     fs.ErrInvalid,
	"dotdot from a subdirectory": fs.ErrInvalid,
}

func asFile(f fs.File) *os.File {
	if f == nil {
		return nil
	}
	return f.(*os.File)
}

func checkOpen(s *scene) {
	for _, c := range []struct{ name, want string }{{"f", "F"}, {"lf", "F"}, {"ld/g", "G"}, {"d/../f", "F"}, {"./d//g", "G"}} {
		f, err := s.d.Open(c.name)
		if !s.expect("Open("+c.name+")", err, nil) {
			continue
		}
		s.cloexec("Open("+c.name+")", f)
		if b, err := io.ReadAll(f); err != nil || string(b) != c.want {
			s.t.Errorf("Open(%s) read %q, %v; want %q", c.name, b, err, c.want)
		}
		if _, err := f.Write([]byte("x")); err == nil {
			s.t.Errorf("Open(%s) is writable", c.name)
		}
		f.Close()
	}
	if f, err := s.d.Open("d"); s.expect("Open(d)", err, nil) {
		if names, err := f.Readdirnames(-1); err != nil || !slices.Equal(names, []string{"g"}) {
			s.t.Errorf("Open(d) lists %q, %v", names, err)
		}
		f.Close()
	}
	s.each("Open", func(n string) error { return closeFile(s.d.Open(n)) },
		nameErr{"missing", fs.ErrNotExist}, nameErr{"dangle", fs.ErrNotExist}, nameErr{"up", dirfd.ErrEscape},
		nameErr{"abs", dirfd.ErrEscape}, nameErr{"loop", syscall.ELOOP}, nameErr{"f/", syscall.ENOTDIR})
}

func checkOpenFile(s *scene) {
	if f, err := s.d.OpenFile("new", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640); s.expect("OpenFile(new, O_CREATE|O_EXCL)", err, nil) {
		s.cloexec("OpenFile", f)
		f.Close()
		s.perm("new", s.osPerm(0o640, false))
	}
	if f, err := s.d.OpenFile("f", os.O_WRONLY|os.O_TRUNC, 0); s.expect("OpenFile(f, O_TRUNC)", err, nil) {
		f.Close()
		s.content("f", "")
	}
	if f, err := s.d.OpenFile("ld/g", os.O_WRONLY|os.O_APPEND|unix.O_NOFOLLOW, 0); s.expect("OpenFile(ld/g, O_APPEND|O_NOFOLLOW)", err, nil) {
		_, err := f.Write([]byte("H"))
		s.must(errors.Join(err, f.Close()))
		s.content("d/g", "GH")
	}
	for _, c := range []struct {
		name, flags string
		flag        int
		want        error
	}{
		{"new", "O_WRONLY|O_CREATE|O_EXCL", os.O_WRONLY | os.O_CREATE | os.O_EXCL, fs.ErrExist},
		{"lf", "O_WRONLY|O_CREATE|O_EXCL", os.O_WRONLY | os.O_CREATE | os.O_EXCL, fs.ErrExist},
		{"lf", "O_RDONLY|O_NOFOLLOW", os.O_RDONLY | unix.O_NOFOLLOW, syscall.ELOOP},
		{"d", "O_RDONLY|O_DIRECTORY", os.O_RDONLY | unix.O_DIRECTORY, nil},
		{"f", "O_RDONLY|O_DIRECTORY", os.O_RDONLY | unix.O_DIRECTORY, syscall.ENOTDIR},
		{"d", "O_WRONLY", os.O_WRONLY, syscall.EISDIR},
		{"up", "O_WRONLY|O_CREATE", os.O_WRONLY | os.O_CREATE, dirfd.ErrEscape},
		{"abs", "O_RDONLY", os.O_RDONLY, dirfd.ErrEscape},
	} {
		// perm is ignored without O_CREATE, as by os.OpenFile.
		s.expect("OpenFile("+c.name+", "+c.flags+", 0644)", closeFile(s.d.OpenFile(c.name, c.flag, 0o644)), c.want)
	}
}

func checkCreate(s *scene) {
	if f, err := s.d.Create("lf"); s.expect("Create(lf)", err, nil) {
		f.Close()
		s.content("f", "")
		s.kind("lf", fs.ModeSymlink)
	}
	s.file("f", "F")
	id := s.id("f")
	if f, err := s.d.Create("f"); s.expect("Create(f)", err, nil) {
		s.cloexec("Create", f)
		f.Close()
		s.content("f", "")
		if s.id("f") != id {
			s.t.Errorf("Create(f) replaced f instead of truncating it")
		}
	}
	if f, err := s.d.Create("new"); s.expect("Create(new)", err, nil) {
		f.Close()
		s.perm("new", s.osPerm(0o666, false))
	}
	s.each("Create", func(n string) error { return closeFile(s.d.Create(n)) },
		nameErr{"d", syscall.EISDIR}, nameErr{"e/", syscall.EISDIR}, nameErr{"up", dirfd.ErrEscape},
		nameErr{"abs", dirfd.ErrEscape}, nameErr{"loop", syscall.ELOOP}, nameErr{strings.Repeat("n", 256), syscall.ENAMETOOLONG})
}

func checkOpenDir(s *scene) {
	parent := s.open()
	sub, err := parent.OpenDir("ld")
	s.must(err)
	s.t.Cleanup(func() { sub.Close() })
	s.cloexec("OpenDir", sub)
	s.must(parent.Close()) // the two are independent
	if b, err := sub.ReadFile("g"); err != nil || string(b) != "G" {
		s.t.Errorf("ReadFile(g) in OpenDir(ld) after its parent's Close: %q, %v", b, err)
	}
	_, err = sub.Stat("../f")
	s.expect("Stat(../f) in OpenDir(d)", err, dirfd.ErrEscape)

	// The new Dir keeps the options.
	s.must(s.r.Symlink("g", "d/lg"))
	sub, err = s.open(dirfd.NoSymlinks()).OpenDir("d")
	s.must(err)
	_, err = sub.Stat("lg")
	s.expect("Stat(lg) in OpenDir(d) of a NoSymlinks Dir", err, syscall.ELOOP)
	sub.Close()
	sub, err = s.open(dirfd.InRoot()).OpenDir("d")
	s.must(err)
	_, err = sub.Stat("../g")
	s.expect("Stat(../g) in OpenDir(d) of an InRoot Dir", err, nil)
	sub.Close()

	s.each("OpenDir", func(n string) error { return closeDir(s.d.OpenDir(n)) },
		nameErr{"f", syscall.ENOTDIR}, nameErr{"lf", syscall.ENOTDIR}, nameErr{"missing", fs.ErrNotExist},
		nameErr{"dangle", fs.ErrNotExist}, nameErr{"up", dirfd.ErrEscape}, nameErr{"abs", dirfd.ErrEscape},
		nameErr{"loop", syscall.ELOOP})
}

func checkOpenHandle(s *scene) {
	for _, c := range []struct{ name, target string }{{"lf", "f"}, {"up", "../outside"}} {
		h := s.handle(c.name) // the link itself, even one that leads out
		s.cloexec("OpenHandle("+c.name+")", h)
		if fi, err := h.Stat(); err != nil || fi.Mode().Type() != fs.ModeSymlink {
			s.t.Errorf("OpenHandle(%s).Stat: %v, %v; want the symlink", c.name, fi, err)
		}
		if target, err := h.Readlink(); err != nil || target != c.target {
			s.t.Errorf("OpenHandle(%s).Readlink: %q, %v", c.name, target, err)
		}
	}
	h := s.handle("f")
	s.must(s.r.Rename("f", "f2"))
	s.file("f", "impostor")
	if fi, err := h.Stat(); s.expect("Stat of a handle whose name moved", err, nil) {
		s.is("the handle's object", fi, "f2")
	}
	if f, err := h.Reopen(os.O_RDONLY); s.expect("Reopen", err, nil) {
		s.cloexec("Reopen", f)
		if b, err := io.ReadAll(f); err != nil || string(b) != "F" {
			s.t.Errorf("Reopen read %q, %v; want the object's content, not the new name's", b, err)
		}
		f.Close()
	}
	if fi, err := s.handle("ld/").Stat(); s.expect("Stat of OpenHandle(ld/)", err, nil) {
		s.is("OpenHandle(ld/)", fi, "d") // a trailing slash follows, as in the kernel
	}
	s.each("OpenHandle", func(n string) error { return closeHandle(s.d.OpenHandle(n)) },
		nameErr{"missing", fs.ErrNotExist}, nameErr{"f/", syscall.ENOTDIR}, nameErr{"up/", dirfd.ErrEscape},
		nameErr{"loop/", syscall.ELOOP})
}

// statCase is a name and the object Stat or Lstat must describe (a name
// in root, by path), or the error.
type statCase struct {
	name, object string
	want         error
}

func checkStats(s *scene, label string, stat func(string) (fs.FileInfo, error), cases []statCase) {
	s.t.Helper()
	for _, c := range cases {
		fi, err := stat(c.name)
		if s.expect(label+"("+c.name+")", err, c.want) && c.want == nil {
			s.is(label+"("+c.name+")", fi, c.object)
			// The name's last element, as os.Stat gives it.
			if trimmed := strings.TrimRight(c.name, "/"); trimmed != "" && fi.Name() != path.Base(trimmed) {
				s.t.Errorf("%s(%s).Name() = %q, want %q", label, c.name, fi.Name(), path.Base(trimmed))
			}
		}
	}
}

func checkStat(s *scene) {
	checkStats(s, "Stat", s.d.Stat, []statCase{
		{"f", "f", nil}, {"lf", "f", nil}, {"ld/g", "d/g", nil}, {"d/g", "d/g", nil}, {"ld/", "d", nil}, {"d/../f", "f", nil},
		{"missing", "", fs.ErrNotExist}, {"dangle", "", fs.ErrNotExist}, {"up", "", dirfd.ErrEscape},
		{"abs", "", dirfd.ErrEscape}, {"loop", "", syscall.ELOOP}, {"f/", "", syscall.ENOTDIR},
	})
}

func checkLstat(s *scene) {
	checkStats(s, "Lstat", s.d.Lstat, []statCase{
		{"f", "f", nil}, {"lf", "lf", nil}, {"up", "up", nil}, {"abs", "abs", nil}, {"loop", "loop", nil},
		{"dangle", "dangle", nil}, {"ld/g", "d/g", nil}, {"ld/", "d", nil},
		{"missing", "", fs.ErrNotExist}, {"f/", "", syscall.ENOTDIR}, {"up/", "", dirfd.ErrEscape},
	})
}

func checkMkdir(s *scene) {
	s.expect("Mkdir(new)", s.d.Mkdir("new", 0o750), nil)
	s.perm("new", s.osPerm(0o750, true))
	s.expect("Mkdir(ld/new)", s.d.Mkdir("ld/new", 0o755), nil)
	s.kind("d/new", fs.ModeDir)
	s.expect("Mkdir(slash/)", s.d.Mkdir("slash/", 0o755), nil)
	s.each("Mkdir", func(n string) error { return s.d.Mkdir(n, 0o755) },
		nameErr{"f", fs.ErrExist}, nameErr{"d", fs.ErrExist}, nameErr{"lf", fs.ErrExist}, nameErr{"dangle", fs.ErrExist},
		nameErr{"up", fs.ErrExist}, nameErr{strings.Repeat("n", 256), syscall.ENAMETOOLONG})
}

func checkMkdirAll(s *scene) {
	s.expect("MkdirAll(a/b/c)", s.d.MkdirAll("a/b/c", 0o750), nil)
	want := s.osPerm(0o750, true)
	for _, n := range []string{"a", "a/b", "a/b/c"} {
		s.perm(n, want)
	}
	s.each("MkdirAll", func(n string) error { return s.d.MkdirAll(n, 0o755) },
		nameErr{"a/b/c", nil}, nameErr{"d", nil}, nameErr{"ld/x/y", nil}, nameErr{"f", syscall.ENOTDIR},
		nameErr{"lf", syscall.ENOTDIR}, nameErr{"f/x/y", syscall.ENOTDIR}, nameErr{"up/x", dirfd.ErrEscape},
		nameErr{"loop", syscall.ELOOP})
	s.kind("d/x/y", fs.ModeDir)
}

func checkRemove(s *scene) {
	s.each("Remove", s.d.Remove,
		nameErr{"d", syscall.ENOTEMPTY}, nameErr{"missing", fs.ErrNotExist}, nameErr{"f/", syscall.ENOTDIR},
		nameErr{"d/g/", syscall.ENOTDIR},
		// A final symlink is removed itself, even one that leads out.
		nameErr{"lf", nil}, nameErr{"up", nil}, nameErr{"ld/g", nil}, nameErr{"e", nil}, nameErr{"d/", nil}, nameErr{"f", nil})
	for _, n := range []string{"lf", "up", "d", "e", "f"} {
		s.exists(n, false)
	}
	s.kind("ld", fs.ModeSymlink)
}

func checkRemoveAll(s *scene) {
	s.must(s.r.MkdirAll("d/sub/deep", 0o755))
	s.file("d/sub/deep/h", "H")
	s.must(s.r.Symlink(s.out.dir, "d/sub/out"))
	s.must(s.r.Symlink("../../../outside", "d/sub/deep/up"))
	s.each("RemoveAll", s.d.RemoveAll,
		nameErr{".", syscall.EINVAL}, nameErr{"e/.", syscall.EINVAL}, nameErr{"d/..", syscall.EINVAL},
		// Symlinks are removed themselves, never followed.
		nameErr{"ld", nil}, nameErr{"up", nil}, nameErr{"abs", nil},
		nameErr{"d", nil}, nameErr{"d", nil}, nameErr{"missing", nil}, nameErr{"f", nil})
	for _, n := range []string{"ld", "up", "abs", "d", "f"} {
		s.exists(n, false)
	}
	s.kind("e", fs.ModeDir)
}

func checkRename(s *scene) {
	s.mkdir("d/sub")
	s.pairs("Rename", s.d.Rename,
		pairErr{"missing", "x", fs.ErrNotExist}, pairErr{"d", "e", fs.ErrExist}, pairErr{"f", "e", fs.ErrExist},
		pairErr{"lf", "d", fs.ErrExist}, pairErr{"d", "d/sub/x", syscall.EINVAL}, pairErr{"f/", "x", syscall.ENOTDIR},
		pairErr{"f", "f2", nil}, pairErr{"d/g", "e/g", nil}, pairErr{"up", "up2", nil})
	s.exists("f", false)
	s.content("f2", "F")
	s.content("e/g", "G")
	s.kind("up2", fs.ModeSymlink)
	s.file("a", "A")
	s.expect("Rename(f2, a) over a file", s.d.Rename("f2", "a"), nil)
	s.content("a", "F")
	s.expect("Rename(a, lf) over a symlink", s.d.Rename("a", "lf"), nil)
	s.kind("lf", 0)
	s.expect("Rename(d/sub, e/sub) of a directory", s.d.Rename("d/sub", "e/sub"), nil)
	s.kind("e/sub", fs.ModeDir)
}

// dirsAside reports whether a directory can be moved aside into a stage
// on this filesystem (renameat2 NoReplace or the macOS equivalent), which
// the verified operations need to act on a directory without a window; the
// kernel's funlinkat serves removals as well.
func dirsAside(r capability.Report, removal bool) bool {
	return r.Has(capability.RenameNoReplace) || r.Has(capability.RenameatxNp) || removal && r.Has(capability.Funlinkat)
}

// checkVerified checks RemoveIfSame or RenameIfSame (act), on a Dir and a
// Strict Dir: a directory first (the first verified operation of the
// process on this filesystem may meet its rename flags here), then a file
// that is still ours, then one a stranger has replaced.
func checkVerified(s *scene, label string, removal bool, act func(d *dirfd.Dir, name string, h *opath.Handle) error) {
	for _, strict := range []bool{false, true} {
		d, tag := s.variant(strict)
		dir, mine, theirs, stranger := "dir"+tag, "mine"+tag, "theirs"+tag, "stranger"+tag
		s.mkdir(dir)
		s.file(mine, "M")
		s.file(theirs, "T")
		s.file(stranger, "S")
		// Strict: the report, asked first, must decide; without it, the
		// call must work whatever has been learned so far.
		refuse := strict && !dirsAside(s.caps(), removal)
		err := act(d, dir, s.handle(dir))
		if refuse {
			s.expect(label+" of a directory, Strict, without a no-replace rename", err, errors.ErrUnsupported)
			s.exists(dir, true)
		} else {
			s.expect(label+" of a directory"+tag, err, nil)
			s.exists(dir, false)
		}
		s.expect(label+" of a file"+tag, act(d, mine, s.handle(mine)), nil)
		s.exists(mine, false)
		h := s.handle(theirs)
		s.must(s.r.Rename(stranger, theirs))
		s.expect(label+" of a replaced name"+tag, act(d, theirs, h), dirfd.ErrChanged)
		s.content(theirs, "S")
	}
	s.noStaging(".")
}

func checkRemoveIfSame(s *scene) {
	checkVerified(s, "RemoveIfSame", true, func(d *dirfd.Dir, n string, h *opath.Handle) error { return d.RemoveIfSame(n, h) })
	s.expect("RemoveIfSame(lf) of the link", s.d.RemoveIfSame("lf", s.handle("lf")), nil)
	s.exists("lf", false)
	s.content("f", "F")
	closed := s.handle("f")
	closed.Close()
	hf := s.handle("f")
	s.each("RemoveIfSame", func(n string) error { return s.d.RemoveIfSame(n, hf) },
		nameErr{"f/", syscall.ENOTDIR}, nameErr{"missing", fs.ErrNotExist}, nameErr{"d/g", dirfd.ErrChanged})
	s.expect("RemoveIfSame with a nil handle", s.d.RemoveIfSame("f", nil), fs.ErrInvalid)
	s.expect("RemoveIfSame with a closed handle", s.d.RemoveIfSame("f", closed), fs.ErrClosed)
	s.exists("f", true)
	s.exists("d/g", true)
}

func checkRenameIfSame(s *scene) {
	checkVerified(s, "RenameIfSame", false, func(d *dirfd.Dir, n string, h *opath.Handle) error {
		err := d.RenameIfSame(n, h, n+"-moved")
		if err == nil {
			s.exists(n+"-moved", true)
		} else {
			s.exists(n+"-moved", false)
		}
		return err
	})
	hd := s.handle("d")
	s.expect("RenameIfSame of a directory into itself", s.d.RenameIfSame("d", hd, "d/x"), syscall.EINVAL)
	s.content("d/g", "G")
	hf := s.handle("f")
	s.expect("RenameIfSame with a trailing slash on a file", s.d.RenameIfSame("f/", hf, "x"), syscall.ENOTDIR)
	s.expect("RenameIfSame with a nil handle", s.d.RenameIfSame("f", nil, "x"), fs.ErrInvalid)
	s.noStaging(".")
	s.noStaging("d")
}

func checkRenameNoReplace(s *scene) {
	for _, strict := range []bool{false, true} {
		d, tag := s.variant(strict)
		a, b, c, da, dc := "a"+tag, "b"+tag, "c"+tag, "da"+tag, "dc"+tag
		s.mkdir(da)
		s.file(a, "A")
		s.file(b, "B")
		err := d.RenameNoReplace(da, dc)
		r := s.caps()
		atomic := r.Has(capability.RenameNoReplace) || r.Has(capability.RenameatxNp)
		if atomic {
			s.expect("RenameNoReplace of a directory"+tag, err, nil)
			s.kind(dc, fs.ModeDir)
		} else {
			// A directory cannot be linked: no emulation.
			s.expect("RenameNoReplace of a directory without rename_noreplace"+tag, err, errors.ErrUnsupported)
			s.kind(da, fs.ModeDir)
		}
		// Without rename_noreplace, a Strict Dir may refuse the emulation
		// or pass on the EEXIST that the VFS gives before the filesystem
		// is asked.
		if err = d.RenameNoReplace(a, b); !strict || atomic || !errors.Is(err, errors.ErrUnsupported) {
			s.expect("RenameNoReplace onto an existing name"+tag, err, fs.ErrExist)
		}
		s.content(a, "A")
		s.content(b, "B")
		err = d.RenameNoReplace(a, c)
		if strict && !atomic {
			s.expect("RenameNoReplace, Strict, without rename_noreplace", err, errors.ErrUnsupported)
			s.content(a, "A")
		} else {
			s.expect("RenameNoReplace"+tag, err, nil)
			s.exists(a, false)
			s.content(c, "A")
		}
	}
	s.pairs("RenameNoReplace", s.d.RenameNoReplace, pairErr{"missing", "x", fs.ErrNotExist}, pairErr{"f/", "x", syscall.ENOTDIR})
}

func checkExchange(s *scene) {
	for _, strict := range []bool{false, true} {
		d, tag := s.variant(strict)
		a, b := "a"+tag, "b"+tag
		s.file(a, "A")
		s.mkdir(b)
		s.file(b+"/x", "X")
		err := d.Exchange(a, b)
		r := s.caps()
		if !r.Has(capability.RenameExchange) && !r.Has(capability.RenameatxNp) {
			s.expect("Exchange without rename_exchange (never emulated)"+tag, err, errors.ErrUnsupported)
			s.content(a, "A")
			s.content(b+"/x", "X")
			continue
		}
		s.expect("Exchange"+tag, err, nil)
		s.content(a+"/x", "X")
		s.content(b, "A")
		s.pairs("Exchange", d.Exchange, pairErr{a, "missing", fs.ErrNotExist}, pairErr{"missing", a, fs.ErrNotExist})
	}
}

func checkLink(s *scene) {
	s.pairs("Link", s.d.Link,
		pairErr{"f", "d/g", fs.ErrExist}, pairErr{"f", "lf", fs.ErrExist}, pairErr{"d", "x", fs.ErrPermission},
		pairErr{"d/", "x", fs.ErrPermission}, pairErr{"missing", "x", fs.ErrNotExist}, pairErr{"f/", "x", syscall.ENOTDIR},
		pairErr{"f", "h", nil}, pairErr{"lf", "lh", nil}, pairErr{"up", "uh", nil})
	s.is("Link(f, h)", mustLstat(s, "h"), "f")
	s.is("Link(lf, lh): the symlink itself", mustLstat(s, "lh"), "lf")
	s.is("Link(up, uh): the symlink itself", mustLstat(s, "uh"), "up")
}

func mustLstat(s *scene, name string) fs.FileInfo {
	s.t.Helper()
	fi, err := s.r.Lstat(name)
	s.must(err)
	return fi
}

func checkLinkHandle(s *scene) {
	r := s.d.Capabilities()
	route := r.Has(capability.LinkEmptyPath) || r.Has(capability.LinkProcFd)
	h := s.handle("f")
	s.must(s.r.Rename("f", "moved"))
	s.file("f", "impostor")
	for _, strict := range []bool{false, true} {
		d, tag := s.variant(strict)
		err := d.LinkHandle(h, "n"+tag)
		if !route {
			s.expect("LinkHandle without link_empty_path and link_proc_fd"+tag, err, errors.ErrUnsupported)
			s.exists("n"+tag, false)
			continue
		}
		// The procfs route is no emulation: Strict allows it.
		if s.expect("LinkHandle"+tag, err, nil) {
			s.is("LinkHandle's new name", mustLstat(s, "n"+tag), "moved")
		}
	}
	s.expect("LinkHandle with a nil handle", s.d.LinkHandle(nil, "x"), fs.ErrInvalid)
	if !route {
		return
	}
	s.file("gone", "G")
	gone := s.handle("gone")
	s.must(s.r.Remove("gone"))
	closed := s.handle("moved")
	closed.Close()
	for _, c := range []struct {
		what string
		err  error
		want error
	}{
		{"onto an existing name", s.d.LinkHandle(h, "f"), fs.ErrExist},
		{"of a directory", s.d.LinkHandle(s.handle("d"), "dd"), fs.ErrPermission},
		{"of an object without a name", s.d.LinkHandle(gone, "back"), fs.ErrNotExist},
		{"of a closed handle", s.d.LinkHandle(closed, "x"), fs.ErrClosed},
	} {
		s.expect("LinkHandle "+c.what, c.err, c.want)
	}
	s.content("f", "impostor")
}

func checkSymlink(s *scene) {
	// Targets are stored as given; containment is decided when followed.
	for i, target := range []string{"f", "../outside/f", "/", "d/"} {
		n := "s" + string(rune('0'+i))
		if s.expect("Symlink("+target+")", s.d.Symlink(target, n), nil) {
			if got, err := s.r.Readlink(n); err != nil || got != target {
				s.t.Errorf("Symlink(%q, %s) made a link to %q, %v", target, n, got, err)
			}
		}
	}
	_, err := s.d.Stat("s1")
	s.expect("Stat of a new symlink that leads out", err, dirfd.ErrEscape)
	s.pairs("Symlink", s.d.Symlink,
		pairErr{"f", "f", fs.ErrExist}, pairErr{"f", "lf", fs.ErrExist}, pairErr{"f", "d", fs.ErrExist},
		pairErr{"f", "dangle", fs.ErrExist}, pairErr{"a\x00b", "x", fs.ErrInvalid})
	s.exists("x", false)
}

func checkReadlink(s *scene) {
	for _, c := range []struct{ name, want string }{
		{"lf", "f"}, {"up", "../outside"}, {"abs", s.out.dir}, {"loop", "loop"}, {"dangle", "missing"},
	} {
		if got, err := s.d.Readlink(c.name); err != nil || got != c.want {
			s.t.Errorf("Readlink(%s) = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	s.each("Readlink", func(n string) error { _, err := s.d.Readlink(n); return err },
		nameErr{"f", syscall.EINVAL}, nameErr{"d", syscall.EINVAL}, nameErr{"ld/g", syscall.EINVAL},
		nameErr{"missing", fs.ErrNotExist}, nameErr{"up/", dirfd.ErrEscape})
}

func checkReplaceSymlink(s *scene) {
	for _, c := range []struct{ target, name string }{
		{"f", "new"}, {"d", "lf"}, {"d/g", "f"}, {"inside", "up"}, {"f", "ld/n"},
	} {
		if s.expect("ReplaceSymlink("+c.target+", "+c.name+")", s.d.ReplaceSymlink(c.target, c.name), nil) {
			if got, err := s.r.Readlink(c.name); err != nil || got != c.target {
				s.t.Errorf("after ReplaceSymlink(%q, %s), it links to %q, %v", c.target, c.name, got, err)
			}
		}
	}
	s.pairs("ReplaceSymlink", s.d.ReplaceSymlink,
		pairErr{"x", "e", syscall.EISDIR}, pairErr{"x", "ld", nil},
		pairErr{"a\x00b", "new", fs.ErrInvalid})
	s.kind("e", fs.ModeDir)
	s.noStaging(".")
	s.noStaging("d")
}

func checkReplaceLink(s *scene) {
	s.pairs("ReplaceLink", s.d.ReplaceLink,
		pairErr{"d", "x", fs.ErrPermission}, pairErr{"f", "e", syscall.EISDIR}, pairErr{"missing", "x", fs.ErrNotExist},
		pairErr{"f/", "x", syscall.ENOTDIR},
		pairErr{"f", "d/g", nil}, pairErr{"f", "d/g", nil}, pairErr{"f", "new", nil}, pairErr{"lf", "l2", nil},
		pairErr{"f", "up", nil})
	for _, n := range []string{"d/g", "new", "up"} {
		s.is("ReplaceLink(f, "+n+")", mustLstat(s, n), "f")
	}
	s.is("ReplaceLink(lf, l2): the symlink itself", mustLstat(s, "l2"), "lf")
	s.exists("x", false)
	s.noStaging(".")
	s.noStaging("d")
}

func checkWriteFile(s *scene) {
	s.expect("WriteFile(new)", s.d.WriteFile("new", []byte("N"), 0o640), nil)
	s.content("new", "N")
	s.perm("new", s.osPerm(0o640, false))
	s.must(s.r.Chmod("f", 0o600))
	id := s.id("f")
	s.expect("WriteFile(f)", s.d.WriteFile("f", []byte("F2"), 0o644), nil)
	s.content("f", "F2")
	s.perm("f", 0o600) // an existing file keeps its mode
	if s.id("f") == id {
		s.t.Errorf("WriteFile(f) wrote in place, want a new inode renamed over f")
	}
	s.expect("WriteFile(lf)", s.d.WriteFile("lf", []byte("F3"), 0o644), nil)
	s.content("f", "F3")
	s.kind("lf", fs.ModeSymlink)
	cases := []nameErr{
		{"d", syscall.EISDIR}, {"f/", syscall.EISDIR}, {"up", dirfd.ErrEscape}, {"abs", dirfd.ErrEscape},
		{"loop", syscall.ELOOP},
	}
	if unix.Mkfifo(s.path("fifo"), 0o644) == nil {
		cases = append(cases, nameErr{"fifo", syscall.EINVAL})
	} else {
		s.t.Log("no FIFO on this filesystem: WriteFile's refusal to replace one is not checked")
	}
	s.each("WriteFile", func(n string) error { return s.d.WriteFile(n, []byte("X"), 0o644) }, cases...)
	s.content("f", "F3")
	s.noStaging(".")
}

func checkReadFile(s *scene) {
	big := strings.Repeat("0123456789", 7000) // past ReadFile's first buffer
	s.file("big", big)
	for _, c := range []struct{ name, want string }{{"f", "F"}, {"lf", "F"}, {"ld/g", "G"}, {"big", big}} {
		if b, err := s.d.ReadFile(c.name); err != nil || string(b) != c.want {
			s.t.Errorf("ReadFile(%s) = %.20q (%d bytes), %v; want %.20q", c.name, b, len(b), err, c.want)
		}
	}
	s.each("ReadFile", func(n string) error { _, err := s.d.ReadFile(n); return err },
		nameErr{"d", syscall.EISDIR}, nameErr{"missing", fs.ErrNotExist}, nameErr{"up", dirfd.ErrEscape},
		nameErr{"abs", dirfd.ErrEscape}, nameErr{"f/", syscall.ENOTDIR})
}

func checkReadDir(s *scene) {
	for _, c := range []struct {
		name string
		want []string
	}{{".", fixtureNames}, {"ld", []string{"g"}}, {"e", nil}, {"d/..", fixtureNames}} {
		entries, err := s.d.ReadDir(c.name)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if err != nil || !slices.Equal(names, c.want) {
			s.t.Errorf("ReadDir(%s) = %q, %v; want %q", c.name, names, err, c.want)
		}
		for _, e := range entries {
			if fi, err := s.r.Lstat(c.name + "/" + e.Name()); err == nil && fi.Mode().Type() != e.Type() {
				s.t.Errorf("ReadDir(%s): %s has type %v, want %v", c.name, e.Name(), e.Type(), fi.Mode().Type())
			}
		}
	}
	s.each("ReadDir", func(n string) error { _, err := s.d.ReadDir(n); return err },
		nameErr{"f", syscall.ENOTDIR}, nameErr{"missing", fs.ErrNotExist}, nameErr{"up", dirfd.ErrEscape},
		nameErr{"abs", dirfd.ErrEscape})
}

func checkCreateAtomic(s *scene) {
	mode := s.osPerm(0o644, false)
	f, err := s.d.CreateAtomic("f", 0o600)
	s.must(err)
	s.cloexec("CreateAtomic", f)
	_, err = f.WriteString("new")
	s.must(err)
	s.content("f", "F") // nothing visible before Commit
	// Until Commit the file is in a private stage next to f: unnamed on
	// the O_TMPFILE route, under a name on the other.
	stages := s.stages(".")
	if len(stages) != 1 {
		s.t.Errorf("CreateAtomic made %d staging directories, want 1: %q", len(stages), stages)
	} else {
		s.perm(stages[0], 0o700)
		entries := s.readDir(stages[0])
		if unnamed := unnamedStaging(s.caps()); unnamed != (len(entries) == 0) {
			s.t.Errorf("capability says the staged file is unnamed: %v; the stage holds %d entries", unnamed, len(entries))
		}
	}
	s.expect("Commit", f.Commit(), nil)
	s.content("f", "new")
	s.perm("f", mode) // the old file's mode, not perm
	s.expect("Close after Commit", f.Close(), nil)
	s.expect("Commit after Commit", f.Commit(), fs.ErrClosed)
	s.noStaging(".")

	f, err = s.d.CreateAtomic("lf", 0o644)
	s.must(err)
	_, err = f.WriteString("discarded")
	s.must(err)
	s.expect("Close without Commit", f.Close(), nil)
	s.content("f", "new")
	s.noStaging(".")

	f, err = s.d.CreateAtomic("lf", 0o644)
	s.must(err)
	s.expect("AtomicFile.Chmod", f.Chmod(0o640), nil)
	s.expect("Commit through lf", f.Commit(), nil)
	s.perm("f", 0o640)
	s.kind("lf", fs.ModeSymlink)

	f, err = s.d.CreateAtomic("ld/new", 0o640)
	s.must(err)
	s.expect("Commit of a new name", f.Commit(), nil)
	s.perm("d/new", s.osPerm(0o640, false))
	s.noStaging("d")

	s.each("CreateAtomic", func(n string) error { return discard(s.d.CreateAtomic(n, 0o644)) },
		nameErr{"d", syscall.EISDIR}, nameErr{"f/", syscall.EISDIR}, nameErr{"up", dirfd.ErrEscape},
		nameErr{"abs", dirfd.ErrEscape})
	s.noStaging(".")
}

// stages lists the staging directories in dir.
func (s *scene) stages(dir string) []string {
	var out []string
	for _, e := range s.readDir(dir) {
		if strings.HasPrefix(e.Name(), staging.Prefix) {
			out = append(out, dir+"/"+e.Name())
		}
	}
	return out
}

func checkInstall(s *scene) {
	build := func(v string) func(*dirfd.Dir) error {
		return func(stage *dirfd.Dir) error {
			// The stage is a Beneath Dir on the new tree.
			if _, err := stage.Stat(".."); !errors.Is(err, dirfd.ErrEscape) {
				s.t.Errorf("Stat(..) in the stage: %v, want ErrEscape", err)
			}
			if err := stage.Mkdir("sub", 0o755); err != nil {
				return err
			}
			f, err := stage.Create("v")
			if err != nil {
				return err
			}
			_, err = f.WriteString(v)
			return errors.Join(err, f.Close())
		}
	}
	var res dirfd.InstallResult
	s.expect("Install(app)", s.d.Install("app", build("1"), dirfd.Result(&res)), nil)
	r := s.caps()
	exchange := r.Has(capability.RenameExchange) || r.Has(capability.RenameatxNp)
	want := dirfd.InstallResult{Layout: dirfd.LayoutVersioned, Version: res.Version}
	if exchange {
		want = dirfd.InstallResult{Layout: dirfd.LayoutDirect}
	}
	if res != want || res.Layout == dirfd.LayoutVersioned && res.Version == "" {
		s.t.Errorf("Install of a new name: %+v (%v), want %v (rename_exchange: %v)", res, res.Layout, want.Layout, exchange)
	}
	if res.Layout == dirfd.LayoutVersioned {
		if target, err := s.r.Readlink("app"); err != nil || target != "app"+dirfd.VersionsSuffix+"/"+res.Version {
			s.t.Errorf("versioned app -> %q, %v; want the version's directory", target, err)
		}
	}
	s.content("app/v", "1")
	if fi, err := s.r.Stat("app"); err != nil || fi.Mode().Perm() != s.osPerm(0o755, true) {
		s.t.Errorf("installed tree's top: %v, %v; want 0755 less the umask", fi, err)
	}

	verified := false
	s.expect("Install(app) again", s.d.Install("app", build("2"), dirfd.Result(&res), dirfd.Mode(0o750),
		dirfd.KeepPrevious("app.prev"), dirfd.Verify(func(stage *dirfd.Dir) error {
			verified = true
			b, err := stage.ReadFile("v")
			if string(b) != "2" {
				return errors.Join(errors.New("the checked tree is not the one built"), err)
			}
			return nil
		})), nil)
	if !verified || !res.Replaced || res.Layout != want.Layout {
		s.t.Errorf("replacing Install: verified %v, %+v", verified, res)
	}
	s.content("app/v", "2")
	s.content("app.prev/v", "1")
	if fi, err := s.r.Stat("app"); err != nil || fi.Mode().Perm() != 0o750 {
		s.t.Errorf("Install with Mode(0750): %v, %v", fi, err)
	}

	errVerify := errors.New("refused by Verify")
	s.expect("Install refused by Verify", s.d.Install("app", build("3"), dirfd.Verify(func(*dirfd.Dir) error { return errVerify })), errVerify)
	errBuilt := errors.New("build failed")
	s.expect("Install whose build fails", s.d.Install("app", func(*dirfd.Dir) error { return errBuilt }), errBuilt)
	s.content("app/v", "2")
	s.expect("Install over a file", s.d.Install("f", noBuild), syscall.ENOTDIR)
	s.content("f", "F")

	// A new name is published directly even by a Strict Dir. Replacing a
	// directory needs the exchange, Strict or not; where it is missing,
	// the versioned layout is no way out for a Strict Dir either.
	strict := s.open(dirfd.Strict())
	s.expect("Strict Install of a new name", strict.Install("plain", build("1"), dirfd.Result(&res)), nil)
	if res.Layout != dirfd.LayoutDirect {
		s.t.Errorf("Strict Install of a new name: %v, want %v", res.Layout, dirfd.LayoutDirect)
	}
	if exchange {
		s.expect("Strict Install over a directory", strict.Install("plain", build("2")), nil)
		s.content("plain/v", "2")
	} else {
		for _, d := range []*dirfd.Dir{strict, s.d} {
			s.expect("Install over a directory without rename_exchange", d.Install("plain", noBuild), errors.ErrUnsupported)
		}
		s.expect("Strict Install over a versioned name", strict.Install("app", noBuild), errors.ErrUnsupported)
	}
	s.noStaging(".")
}

func checkRemoveStale(s *scene) {
	const (
		leftover = staging.Prefix + "0123456789abcdef0123456789abcdef"
		open     = staging.Prefix + "fedcba9876543210fedcba9876543210"
		theirs   = staging.Prefix + "00112233445566778899aabbccddeeff"
	)
	for _, c := range []struct {
		name, entry string
		mode        fs.FileMode
	}{
		{leftover, "file-0123456789abcdef-1", 0o700},
		{staging.Prefix + "conflict-0123", "x", 0o700}, // somebody's object: never removed
		{open, "file-0123456789abcdef-1", 0o755},       // others may enter: not ours
		{theirs, "x", 0o700},                           // holds what racefree never makes there
	} {
		s.mkdir(c.name)
		s.file(c.name+"/"+c.entry, "X")
		s.must(s.r.Chmod(c.name, c.mode))
	}
	n, err := s.d.RemoveStale(time.Hour)
	if err != nil || n != 0 {
		s.t.Errorf("RemoveStale(1h) of fresh leftovers = %d, %v; want 0, nil", n, err)
	}
	n, err = s.d.RemoveStale(0)
	if err != nil || n != 1 {
		s.t.Errorf("RemoveStale(0) = %d, %v; want 1, nil", n, err)
	}
	s.exists(leftover, false)
	s.exists(staging.Prefix+"conflict-0123", true)
	s.exists(open, true)
	s.exists(theirs+"/x", true)
	closed := s.open()
	closed.Close()
	_, err = closed.RemoveStale(0)
	s.expect("RemoveStale on a closed Dir", err, fs.ErrClosed)
}

func checkChmod(s *scene) {
	s.each("Chmod", func(n string) error { return s.d.Chmod(n, 0o604) },
		nameErr{"f", nil}, nameErr{"up", dirfd.ErrEscape}, nameErr{"abs", dirfd.ErrEscape},
		nameErr{"missing", fs.ErrNotExist}, nameErr{"loop", syscall.ELOOP}, nameErr{"dangle", fs.ErrNotExist})
	s.perm("f", 0o604) // exactly, without the umask
	s.expect("Chmod(lf)", s.d.Chmod("lf", 0o640), nil)
	s.perm("f", 0o640)
	s.kind("lf", fs.ModeSymlink)
	s.expect("Chmod(ld/)", s.d.Chmod("ld/", 0o700), nil)
	s.perm("d", 0o700)
}

// otherID is an owner that is not the caller: nobody.
const otherID = 65534

func checkChown(s *scene) {
	uid, gid := os.Getuid(), os.Getgid()
	s.each("Chown", func(n string) error { return s.d.Chown(n, uid, gid) },
		nameErr{"f", nil}, nameErr{"lf", nil}, nameErr{"up", dirfd.ErrEscape}, nameErr{"abs", dirfd.ErrEscape},
		nameErr{"missing", fs.ErrNotExist}, nameErr{"dangle", fs.ErrNotExist})
	s.expect("Chown(f, -1, -1)", s.d.Chown("f", -1, -1), nil)
	checkOtherOwner(s, "Chown", s.d.Chown, "f", "lf")
}

func checkLchown(s *scene) {
	uid, gid := os.Getuid(), os.Getgid()
	s.each("Lchown", func(n string) error { return s.d.Lchown(n, uid, gid) },
		nameErr{"f", nil}, nameErr{"lf", nil}, nameErr{"up", nil}, nameErr{"up/", dirfd.ErrEscape},
		nameErr{"missing", fs.ErrNotExist})
	checkOtherOwner(s, "Lchown", s.d.Lchown, "lf", "f")
}

// checkOtherOwner gives lf to nobody with chown, which must change the
// owner of changed and not of unchanged (the link or its target).
func checkOtherOwner(s *scene, label string, chown func(name string, uid, gid int) error, changed, unchanged string) {
	s.t.Run("other owner", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("giving a file to another owner needs root")
		}
		s := s.in(t)
		s.expect(label+"(lf, nobody)", chown("lf", otherID, otherID), nil)
		s.owner(changed, otherID)
		s.owner(unchanged, 0)
	})
}

// owner checks name's owner (lstat by path).
func (s *scene) owner(name string, uid int) {
	s.t.Helper()
	fi := mustLstat(s, name)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != uid {
		s.t.Errorf("%s is owned by %d, want %d", name, st.Uid, uid)
	}
}

func checkChtimes(s *scene) {
	mtime := func(name string) time.Time { return mustLstat(s, name).ModTime() }
	link := mtime("lf")
	s.each("Chtimes", func(n string) error { return s.d.Chtimes(n, epoch, epoch) },
		nameErr{"lf", nil}, nameErr{"up", dirfd.ErrEscape}, nameErr{"abs", dirfd.ErrEscape},
		nameErr{"missing", fs.ErrNotExist}, nameErr{"dangle", fs.ErrNotExist})
	if !mtime("f").Equal(epoch) || !mtime("lf").Equal(link) {
		s.t.Errorf("Chtimes(lf): f's mtime %v, lf's %v; want f's set to %v and the link's unchanged", mtime("f"), mtime("lf"), epoch)
	}
	later := epoch.Add(time.Hour)
	s.expect("Chtimes(f, zero, later)", s.d.Chtimes("f", time.Time{}, later), nil)
	s.expect("Chtimes(f, zero, zero)", s.d.Chtimes("f", time.Time{}, time.Time{}), nil)
	if !mtime("f").Equal(later) {
		s.t.Errorf("Chtimes with zero times: mtime %v, want %v", mtime("f"), later)
	}
}

func checkFS(s *scene) {
	fsys := s.d.FS()
	for _, ok := range []bool{
		implements[fs.StatFS](fsys), implements[fs.ReadDirFS](fsys), implements[fs.ReadFileFS](fsys), implements[fs.ReadLinkFS](fsys),
	} {
		if !ok {
			s.t.Errorf("FS() is a %T, want fs.StatFS, fs.ReadDirFS, fs.ReadFileFS and fs.ReadLinkFS", fsys)
			break
		}
	}
	s.mkdir("d/sub")
	s.file("d/sub/h", "H")
	s.must(s.r.Symlink("sub/h", "d/lh"))
	sub, err := s.d.OpenDir("d")
	s.must(err)
	defer sub.Close()
	if err := fstest.TestFS(sub.FS(), "g", "sub/h", "lh"); err != nil {
		s.t.Errorf("fstest.TestFS: %v", err)
	}
	if target, err := fs.ReadLink(fsys, "up"); err != nil || target != "../outside" {
		s.t.Errorf("FS ReadLink(up) = %q, %v", target, err)
	}
	if fi, err := fs.Lstat(fsys, "lf"); err != nil || fi.Mode().Type() != fs.ModeSymlink {
		s.t.Errorf("FS Lstat(lf) = %v, %v", fi, err)
	}
	s.each("FS.Stat", func(n string) error { _, err := fs.Stat(fsys, n); return err },
		nameErr{"d/g", nil}, nameErr{"lf", nil}, nameErr{".", nil}, nameErr{"up", dirfd.ErrEscape},
		nameErr{"./f", fs.ErrInvalid}, nameErr{"d/", fs.ErrInvalid}, nameErr{"d//g", fs.ErrInvalid})
}

func implements[T any](v any) bool { _, ok := v.(T); return ok }
