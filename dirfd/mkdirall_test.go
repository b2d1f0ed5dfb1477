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

// TestMkdirAllThroughASymlinkThatLeadsNowhere: a component that exists and
// is not a directory is ENOTDIR, as MkdirAll's doc (and securejoin's
// MkdirAll) say, a dangling symlink included (it used to be ENOENT), and
// nothing is created through the link, inside the tree or out.
func TestMkdirAllThroughASymlinkThatLeadsNowhere(t *testing.T) {
	for _, tc := range []struct {
		mode string
		opts []dirfd.Option
		name string
		want error
	}{
		{"Beneath", nil, "dang/x/y", syscall.ENOTDIR},
		{"Beneath", nil, "dang", syscall.ENOTDIR},
		{"Beneath", nil, "d/dang/x", syscall.ENOTDIR},
		{"Beneath", nil, "out/x", dirfd.ErrEscape},
		{"InRoot", []dirfd.Option{dirfd.InRoot()}, "dang/x", syscall.ENOTDIR},
		{"InRoot", []dirfd.Option{dirfd.InRoot()}, "out/x", syscall.ENOTDIR},
		{"InRoot", []dirfd.Option{dirfd.InRoot()}, "abs/x", syscall.ENOTDIR},
	} {
		t.Run(tc.mode+"/"+tc.name, func(t *testing.T) {
			parent := t.TempDir()
			buildTree(t, parent, `
				dir in
				dir in/d
				symlink in/dang nothere
				symlink in/d/dang ../nothere
				symlink in/out ../outside/new
				symlink in/abs /nothere
				dir outside`)
			before := snapshot(t, parent)
			d := openDir(t, filepath.Join(parent, "in"), tc.opts...)
			for _, mk := range []func() error{
				func() error { return d.MkdirAll(tc.name, 0o755) },
				func() error {
					sub, err := d.MkdirAllDir(tc.name, 0o755)
					if err == nil {
						sub.Close()
					}
					return err
				},
			} {
				err := mk()
				var pe *fs.PathError
				if !errors.Is(err, tc.want) || !errors.As(err, &pe) {
					t.Errorf("MkdirAll(%q) = %v, want a *fs.PathError matching %v", tc.name, err, tc.want)
				}
			}
			if after := snapshot(t, parent); len(after) != len(before) {
				t.Errorf("MkdirAll(%q) created something: %d entries before, %d after", tc.name, len(before), len(after))
			}
		})
	}
}

// TestMkdirAllDirOpensWhatItMade: MkdirAllDir returns the directory named,
// made or found, as a Dir with the same options, and fails as MkdirAll does.
func TestMkdirAllDirOpensWhatItMade(t *testing.T) {
	parent := t.TempDir()
	buildTree(t, parent, `
		dir in
		dir in/real
		symlink in/link real
		file in/f F
		dir outside`)
	root := filepath.Join(parent, "in")
	for _, tc := range []struct {
		name, where string // where is the directory the Dir must be, relative to root
	}{
		{"a/b/c", "a/b/c"},
		{"real", "real"},
		{"link/x/y", "real/x/y"},
		{"a/../z", "z"},
		{".", "."},
		{"new/", "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := openDir(t, root, dirfd.InRoot())
			sub, err := d.MkdirAllDir(tc.name, 0o750)
			if err != nil {
				t.Fatalf("MkdirAllDir(%q): %v", tc.name, err)
			}
			defer sub.Close()
			got, err := sub.Stat(".")
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.Stat(filepath.Join(root, tc.where))
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(got, want) {
				t.Errorf("MkdirAllDir(%q) opened another directory than %s", tc.name, tc.where)
			}
			// The new Dir keeps d's options: InRoot clamps ".." at its top.
			if _, err := sub.Stat("../../../.."); err != nil {
				t.Errorf("the Dir from MkdirAllDir lost InRoot: Stat(../../../..) = %v", err)
			}
		})
	}
	d := openDir(t, root)
	for name, want := range map[string]error{"f/x": syscall.ENOTDIR, "f": syscall.ENOTDIR, "../outside/x": dirfd.ErrEscape, "": fs.ErrInvalid} {
		if sub, err := d.MkdirAllDir(name, 0o755); !errors.Is(err, want) {
			t.Errorf("MkdirAllDir(%q) = %v, %v; want %v", name, sub, err, want)
		}
	}
}
