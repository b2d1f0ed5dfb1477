//go:build unix

package fstests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
)

// The checks of the Dir itself, the package functions and the options.

func checkCapabilities(s *scene) {
	report := s.d.Capabilities()
	var names []capability.Feature
	for _, st := range report.Features() {
		names = append(names, st.Feature)
		if st.Available != report.Has(st.Feature) {
			s.t.Errorf("%s: Features says %v, Has says %v", st.Feature, st.Available, report.Has(st.Feature))
		}
		if st.Available && !capability.Has(st.Feature) {
			s.t.Errorf("%s: available on this filesystem although the process lacks it (%s)", st.Feature, st.Detail)
		}
	}
	if !slices.Equal(names, capability.All()) {
		s.t.Errorf("Features lists %v, want %v", names, capability.All())
	}
	if !slices.Equal(report.Features(), capability.ForDir(int(s.d.Fd())).Features()) {
		s.t.Errorf("Capabilities differs from capability.ForDir of the Dir's filesystem")
	}

	// What the probe finds must be what the kernel does when asked
	// directly, and from then on what the Dir reports.
	probed := s.caps()
	for _, st := range s.d.Capabilities().Features() {
		if st.Available != probed.Has(st.Feature) {
			s.t.Errorf("%s: Capabilities says %v (%s) after ProbeDir found %v (%s)", st.Feature, st.Available, st.Detail, probed.Has(st.Feature), probed.Status(st.Feature).Detail)
		}
	}
	var line []string
	for _, trial := range kernelTrials {
		f, got := trial.feature, probed.Status(trial.feature)
		line = append(line, fmt.Sprintf("%s=%v (%s)", f, got.Available, got.Detail))
		kernelErr := s.trial("trial-"+string(f), trial.try)
		switch {
		case !capability.Has(f) && kernelErr == nil && !capability.Disabled(f):
			// Missing from the process report, which only RACEFREE_DISABLE
			// may make say so of what the kernel does.
			s.t.Errorf("%s: the kernel does it on this filesystem, but the process report says missing (%s)", f, capability.Probe().Status(f).Detail)
		case !capability.Has(f):
			// Disabled by the profile, or missing for this process: the
			// filesystem cannot add it (checked above).
		case kernelErr == nil && !got.Available:
			s.t.Errorf("%s: the kernel does it on this filesystem, but the report says missing (%s)", f, got.Detail)
		case kernelErr != nil && capability.Unsupported(kernelErr) && got.Available:
			s.t.Errorf("%s: the kernel refuses it on this filesystem (%v), but the report says available (%s)", f, kernelErr, got.Detail)
		case kernelErr != nil && !capability.Unsupported(kernelErr) && !got.Available:
			// EPERM and the like say nothing about the filesystem.
			s.t.Errorf("%s: the kernel says %v, which is no reason to mark the filesystem, but the report says missing (%s)", f, kernelErr, got.Detail)
		}
	}
	s.t.Logf("this filesystem, uid %d, %s=%q: %s", os.Geteuid(), capability.EnvDisable, os.Getenv(capability.EnvDisable), strings.Join(line, "; "))
	checkProcessReport(s)
}

// checkProcessReport compares the process report with what the kernel
// does for this process when each feature is tried directly: a report that
// hides a feature (the fallback then runs, and every other check passes)
// or claims one the kernel refuses fails here.
func checkProcessReport(s *scene) {
	for _, trial := range processTrials {
		f, got := trial.feature, capability.Probe().Status(trial.feature)
		kernelErr := s.trial("process-"+string(f), trial.try)
		switch {
		case capability.Disabled(f):
			if got.Available {
				s.t.Errorf("%s: available although %s names it (%s)", f, capability.EnvDisable, got.Detail)
			}
		case kernelErr == nil && !got.Available:
			s.t.Errorf("%s: the kernel does it for this process, but the process report says missing (%s)", f, got.Detail)
		case kernelErr != nil && got.Available:
			s.t.Errorf("%s: the kernel refuses it for this process (%v), but the process report says available (%s)", f, kernelErr, got.Detail)
		}
	}
}

// trial runs try in a fresh directory name of the scene's root, by
// descriptor, and returns what it returned.
func (s *scene) trial(name string, try func(dir int) error) error {
	s.t.Helper()
	s.must(s.r.Mkdir(name, 0o700))
	fd, err := unix.Openat(int(s.d.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	s.must(err)
	defer unix.Close(fd)
	return try(fd)
}

func checkName(s *scene) {
	if got := s.d.Name(); got != s.root {
		s.t.Errorf("Name() = %q, want %q as given to Open", got, s.root)
	}
	f, err := os.Open(s.root)
	s.must(err)
	defer f.Close()
	d, err := dirfd.FromFile(f)
	s.must(err)
	defer d.Close()
	if got := d.Name(); got != f.Name() {
		s.t.Errorf("Name() of FromFile = %q, want the file's name %q", got, f.Name())
	}
}

func checkFd(s *scene) {
	s.cloexec("Fd", s.d)
	var st unix.Stat_t
	s.must(unix.Fstat(int(s.d.Fd()), &st))
	if (devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}) != s.id(".") {
		s.t.Errorf("Fd() is not a descriptor of the directory opened")
	}
}

func checkClose(s *scene) {
	d := s.open()
	f, err := d.Open("f")
	s.must(err)
	defer f.Close()
	sub, err := d.OpenDir("d")
	s.must(err)
	defer sub.Close()
	s.expect("Close", d.Close(), nil)
	err = d.Close()
	var pe *fs.PathError
	if !errors.Is(err, fs.ErrClosed) || !errors.As(err, &pe) {
		s.t.Errorf("second Close = %v, want an *fs.PathError matching fs.ErrClosed", err)
	}
	// What was opened through it stays usable.
	b := make([]byte, 1)
	if _, err := f.Read(b); s.expect("reading a file opened before Close", err, nil) && b[0] != 'F' {
		s.t.Errorf("read %q from f", b)
	}
	_, err = sub.Stat("g")
	s.expect("Stat in a Dir opened by OpenDir before Close", err, nil)
}

func checkFromFile(s *scene) {
	f, err := os.Open(s.root)
	s.must(err)
	d, err := dirfd.FromFile(f, dirfd.NoSymlinks())
	s.must(err)
	defer d.Close()
	s.must(f.Close()) // the Dir holds its own descriptor
	s.cloexec("FromFile", d)
	if b, err := d.ReadFile("d/g"); err != nil || string(b) != "G" {
		s.t.Errorf("ReadFile through FromFile after the file's Close: %q, %v", b, err)
	}
	_, err = d.Stat("lf")
	s.expect("Stat(lf) in FromFile(f, NoSymlinks())", err, syscall.ELOOP)
	_, err = d.Stat("../f")
	s.expect("Stat(../f) in FromFile", err, dirfd.ErrEscape)

	f, err = os.Open(s.path("f"))
	s.must(err)
	defer f.Close()
	s.expect("FromFile of a file", closeDir(dirfd.FromFile(f)), syscall.ENOTDIR)
}

func checkOpenPackage(s *scene) {
	s.must(s.r.Symlink(".", "self"))
	for _, c := range []nameErr{
		{s.root, nil},
		{s.path("self"), nil}, // symlinks in the path itself are followed
		{s.root + "/ld", nil},
		{s.path("f"), syscall.ENOTDIR},
		{s.path("missing"), fs.ErrNotExist},
		{s.path("loop"), syscall.ELOOP},
		{s.path(strings.Repeat("n", 256)), syscall.ENAMETOOLONG},
		{"", fs.ErrInvalid},
		{s.root + "/\x00", fs.ErrInvalid},
	} {
		d, err := dirfd.Open(c.name)
		if s.expect(fmt.Sprintf("Open(%.60q)", c.name), err, c.want) && err == nil {
			s.cloexec("Open", d)
			d.Close()
		}
		var pe *fs.PathError
		if err != nil && !errors.As(err, &pe) {
			s.t.Errorf("Open(%.60q): error %v is a %T, want an *fs.PathError", c.name, err, err)
		}
	}
}

func checkBeneath(s *scene) {
	checkStats(s, "Beneath Stat", s.open(dirfd.Beneath()).Stat, []statCase{
		{"d/../f", "f", nil}, {"ld/g", "d/g", nil}, {"ld/../f", "f", nil},
		{"../root/f", "", dirfd.ErrEscape}, {"/f", "", dirfd.ErrEscape}, {"up", "", dirfd.ErrEscape},
		{"abs", "", dirfd.ErrEscape}, {"d/../..", "", dirfd.ErrEscape},
	})
}

func checkInRoot(s *scene) {
	s.must(s.r.Symlink("/d", "rooted"))
	s.must(s.r.Symlink("../../..", "d/top"))
	d := s.open(dirfd.InRoot())
	checkStats(s, "InRoot Stat", d.Stat, []statCase{
		// ".." at the top stays there; absolute names and targets start there.
		{"../f", "f", nil}, {"/f", "f", nil}, {"../../d/g", "d/g", nil}, {"rooted/g", "d/g", nil},
		{"d/top/f", "f", nil}, {"/", ".", nil},
		{"up", "", fs.ErrNotExist}, {"abs/f", "", fs.ErrNotExist},
	})
	s.expect("InRoot Create(../new)", closeFile(d.Create("../new")), nil)
	s.exists("new", true)
}

func checkNoSymlinks(s *scene) {
	for _, opts := range [][]dirfd.Option{{dirfd.NoSymlinks()}, {dirfd.InRoot(), dirfd.NoSymlinks()}} {
		d := s.open(opts...)
		checkStats(s, "NoSymlinks Stat", d.Stat, []statCase{
			{"f", "f", nil}, {"d/../f", "f", nil},
			{"lf", "", syscall.ELOOP}, {"ld/g", "", syscall.ELOOP}, {"ld/", "", syscall.ELOOP}, {"up", "", syscall.ELOOP},
		})
		// What does not follow a final symlink still works on one.
		checkStats(s, "NoSymlinks Lstat", d.Lstat, []statCase{{"lf", "lf", nil}, {"ld/g", "", syscall.ELOOP}})
		s.expect("NoSymlinks OpenHandle(lf)", closeHandle(d.OpenHandle("lf")), nil)
		_, err := d.Readlink("lf")
		s.expect("NoSymlinks Readlink(lf)", err, nil)
		_, err = d.ReadFile("lf")
		s.expect("NoSymlinks ReadFile(lf)", err, syscall.ELOOP)
	}
}

// checkNoXDev needs a mount point it can resolve through: the nearest
// ancestor of the scene on another filesystem than its parent, or /proc.
// It only looks: Stat through a Dir on that parent.
func checkNoXDev(s *scene) {
	checkStats(s, "NoXDev Stat", s.open(dirfd.NoXDev()).Stat, []statCase{
		{"d/g", "d/g", nil}, {"ld/g", "d/g", nil}, {"up", "", dirfd.ErrEscape},
	})
	s.t.Run("mount point", func(t *testing.T) {
		parent, rel, err := mountCrossing(s.dir)
		if err != nil {
			t.Skipf("no mount point to cross: %v", err)
		}
		for _, opts := range [][]dirfd.Option{nil, {dirfd.NoXDev()}} {
			d, err := dirfd.Open(parent, opts...)
			if err != nil {
				t.Skipf("cannot open %s to cross the mount point below it: %v", parent, err)
			}
			_, err = d.Stat(rel)
			d.Close()
			switch {
			case opts == nil && err != nil:
				t.Skipf("cannot reach %s from %s at all: %v", rel, parent, err)
			case opts != nil && !errors.Is(err, dirfd.ErrEscape):
				t.Errorf("NoXDev Stat(%s) from %s, across a mount point = %v, want ErrEscape", rel, parent, err)
			}
		}
	})
}

// mountCrossing finds a directory and a name in it that resolves across a
// mount point: dir's path from the parent of its filesystem's mount point,
// or else "proc" from "/".
func mountCrossing(dir string) (parent, rel string, err error) {
	dev := func(p string) (uint64, error) {
		fi, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		id, _ := idOf(fi)
		return id.dev, nil
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for cur := dir; cur != filepath.Dir(cur); cur = filepath.Dir(cur) {
		a, err1 := dev(cur)
		b, err2 := dev(filepath.Dir(cur))
		if err := errors.Join(err1, err2); err != nil {
			break
		}
		if a != b {
			rel, _ := filepath.Rel(filepath.Dir(cur), dir)
			return filepath.Dir(cur), rel, nil
		}
	}
	a, err1 := dev("/")
	b, err2 := dev("/proc")
	if err := errors.Join(err1, err2); err != nil || a == b {
		return "", "", fmt.Errorf("%s is on the root filesystem, and /proc is no mount point (%v)", dir, err)
	}
	return "/", "proc", nil
}

func checkStrict(s *scene) {
	// Strict changes nothing in resolution.
	strict := *s
	strict.d = s.open(dirfd.Strict())
	strict.badNames(one("Strict Stat", func(d *dirfd.Dir, n string) error { _, err := d.Stat(n); return err }))
	d := strict.d
	// Operations that have no emulation work as without it; the ones that
	// have are checked in their own sub-tests, Strict and not.
	s.expect("Strict WriteFile", d.WriteFile("f", []byte("S"), 0o644), nil)
	s.content("f", "S")
	s.expect("Strict ReplaceSymlink", d.ReplaceSymlink("d", "lf"), nil)
	s.expect("Strict ReplaceLink", d.ReplaceLink("f", "d/g"), nil)
	s.expect("Strict Rename", d.Rename("d/g", "g"), nil)
	s.content("g", "S")
	s.noStaging(".")
	s.noStaging("d")
}
