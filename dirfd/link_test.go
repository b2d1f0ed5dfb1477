//go:build unix

package dirfd_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/racefree/racefree/dirfd"
)

// linkTree is the fixture of the ReplaceLink and LinkHandle tests: root/
// holds the Dir's tree, outside/ a sibling that must never change.
const linkTree = `
	dir root
	dir root/a
	file root/a/f one
	file root/b two
	symlink root/sym a/f
	symlink root/esc ../outside
	dir root/d
	dir outside
	file outside/secret outside
`

// linkFixture builds linkTree and opens root/ as a Dir with opts.
func linkFixture(t *testing.T, opts ...dirfd.Option) (string, *dirfd.Dir) {
	t.Helper()
	base := t.TempDir()
	buildTree(t, base, linkTree)
	return base, openDir(t, filepath.Join(base, "root"), opts...)
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	fa, err := os.Lstat(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.Lstat(b)
	if err != nil {
		t.Fatal(err)
	}
	return os.SameFile(fa, fb)
}

func TestReplaceLink(t *testing.T) {
	t.Run("ReplacesFile", func(t *testing.T) {
		base, d := linkFixture(t)
		if err := d.ReplaceLink("a/f", "b"); err != nil {
			t.Fatal(err)
		}
		if !sameFile(t, filepath.Join(base, "root/a/f"), filepath.Join(base, "root/b")) {
			t.Fatal("b is not a link to a/f")
		}
		if left := stagingLeftovers(t, filepath.Join(base, "root")); len(left) != 0 {
			t.Fatalf("staging leftovers: %v", left)
		}
	})
	t.Run("CreatesMissing", func(t *testing.T) {
		base, d := linkFixture(t)
		if err := d.ReplaceLink("b", "a/new"); err != nil {
			t.Fatal(err)
		}
		if !sameFile(t, filepath.Join(base, "root/b"), filepath.Join(base, "root/a/new")) {
			t.Fatal("a/new is not a link to b")
		}
	})
	t.Run("SameInodeLeavesNothing", func(t *testing.T) {
		base, d := linkFixture(t)
		if err := d.Link("a/f", "a/g"); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, base)
		for _, c := range [][2]string{{"a/f", "a/g"}, {"a/g", "a/f"}, {"a/f", "a/f"}} {
			if err := d.ReplaceLink(c[0], c[1]); err != nil {
				t.Fatalf("ReplaceLink(%q, %q): %v", c[0], c[1], err)
			}
		}
		// No staging directory, and no staged link keeping a third name
		// (Nlink) anywhere.
		assertSameTree(t, before, snapshot(t, base))
	})
	t.Run("SymlinkLinkedItself", func(t *testing.T) {
		base, d := linkFixture(t)
		if err := d.ReplaceLink("sym", "b"); err != nil {
			t.Fatal(err)
		}
		if !sameFile(t, filepath.Join(base, "root/sym"), filepath.Join(base, "root/b")) {
			t.Fatal("b is not a link to the symlink sym")
		}
	})
	t.Run("EscapingSymlinkLinkedItself", func(t *testing.T) {
		// The symlink is an entry inside the tree; linking it follows
		// nothing.
		base, d := linkFixture(t)
		if err := d.ReplaceLink("esc", "b"); err != nil {
			t.Fatal(err)
		}
		if target, err := os.Readlink(filepath.Join(base, "root/b")); err != nil || target != "../outside" {
			t.Fatalf("b -> %q, %v", target, err)
		}
	})

	for _, c := range []struct {
		name     string
		old, new string
		want     error
	}{
		{"DirectoryCannotBeLinked", "d", "b", syscall.EPERM},
		{"DirectoryWithSlash", "d/", "b", syscall.EPERM},
		{"FileWithSlash", "b/", "x", syscall.ENOTDIR},
		{"DirectoryNotReplaced", "b", "d", syscall.EISDIR},
		{"MissingOld", "nothing", "b", fs.ErrNotExist},
		{"MissingNewParent", "b", "nodir/x", fs.ErrNotExist},
		{"NulOld", "b\x00", "x", fs.ErrInvalid},
		{"NulNew", "b", "x\x00", fs.ErrInvalid},
		{"EmptyOld", "", "x", fs.ErrInvalid},
		{"EmptyNew", "b", "", fs.ErrInvalid},
		{"NewEscapesByDotDot", "b", "../outside/secret", dirfd.ErrEscape},
		{"NewEscapesBySymlink", "b", "esc/secret", dirfd.ErrEscape},
		{"NewAbsolute", "b", "/x", dirfd.ErrEscape},
		{"OldEscapesByDotDot", "../outside/secret", "x", dirfd.ErrEscape},
		{"OldEscapesBySymlink", "esc/secret", "b", dirfd.ErrEscape},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, d := linkFixture(t)
			before := snapshot(t, base)
			err := d.ReplaceLink(c.old, c.new)
			if !errors.Is(err, c.want) {
				t.Fatalf("ReplaceLink(%q, %q): %v, want %v", c.old, c.new, err, c.want)
			}
			var le *os.LinkError
			if !errors.As(err, &le) || le.Op != "linkat" || le.Old != c.old || le.New != c.new {
				t.Fatalf("error %#v is not *os.LinkError{linkat, %q, %q}", err, c.old, c.new)
			}
			assertSameTree(t, before, snapshot(t, base))
		})
	}
}

// TestReplaceLinkNeverMissing is G2 for hard links: two readers read f in
// a loop while it is re-linked to one of two files over and over; none may
// find it missing or read anything but a whole file. The naive way
// (unlink, then link) must be caught by the same harness.
func TestReplaceLinkNeverMissing(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	// Two source files with the contents replaceRace alternates between;
	// the replacement links the one whose content it is given.
	sources := func(t *testing.T, dir string) func(data []byte) string {
		big, small := raceContent(1, 64<<10), raceContent(2, 1<<10)
		for name, data := range map[string][]byte{"big": big, "small": small} {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return func(data []byte) string {
			if len(data) == len(big) {
				return "big"
			}
			return "small"
		}
	}
	t.Run("naive", func(t *testing.T) {
		dir := memTempDir(t)
		source := sources(t, dir)
		reads, bad := replaceRace(t, dir, func(data []byte) error {
			os.Remove(filepath.Join(dir, "f"))
			return os.Link(filepath.Join(dir, source(data)), filepath.Join(dir, "f"))
		}, 20*n, true)
		if bad == nil {
			t.Fatalf("inconclusive: naive unlink+link was not caught in %d replaces (%d reads)", 20*n, reads)
		}
		t.Logf("naive caught: %v", bad)
	})
	t.Run("racefree", func(t *testing.T) {
		dir := memTempDir(t)
		source := sources(t, dir)
		d := openDir(t, dir)
		reads, bad := replaceRace(t, dir, func(data []byte) error {
			return d.ReplaceLink(source(data), "f")
		}, n, false)
		if bad != nil {
			t.Fatalf("a reader saw a bad file during %d replaces: %v", n, bad)
		}
		if left := stagingLeftovers(t, dir); len(left) != 0 {
			t.Errorf("staging leftovers: %v", left)
		}
		t.Logf("%d replaces, %d reads, all whole", n, reads)
	})
}
