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

// Regressions found by the fstests conformance suite.

// A permission given with a plain O_DIRECTORY open is ignored, as open(2)
// ignores it: only O_CREAT and O_TMPFILE use it.
func TestOpenFileDirectoryWithPerm(t *testing.T) {
	d := openDir(t, t.TempDir())
	if err := d.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := d.OpenFile("d", os.O_RDONLY|syscall.O_DIRECTORY, 0o644)
	if err != nil {
		t.Fatalf("OpenFile(d, O_DIRECTORY, 0644): %v", err)
	}
	f.Close()
}

func TestReplaceSymlinkNulTarget(t *testing.T) {
	d := openDir(t, t.TempDir())
	err := d.ReplaceSymlink("a\x00b", "l")
	if !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("ReplaceSymlink with a NUL in the target: %v, want fs.ErrInvalid", err)
	}
}

func TestInstallKeepPreviousEmpty(t *testing.T) {
	dir := t.TempDir()
	d := openDir(t, dir)
	build := func(stage *dirfd.Dir) error { return stage.WriteFile("f", []byte("x"), 0o644) }
	if err := d.Install("app", build); err != nil {
		t.Fatal(err)
	}
	if err := d.Install("app", build, dirfd.KeepPrevious("")); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("Install with KeepPrevious(\"\"): %v, want fs.ErrInvalid", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "app", "f")); err != nil {
		t.Fatalf("the installed tree is gone: %v", err)
	}
}

// MkdirAll makes the missing levels in every mode, and goes through a
// symlink that stays inside (found by review of the held-directory walk).
func TestMkdirAllModes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []dirfd.Option
	}{
		{"Beneath", nil},
		{"InRoot", []dirfd.Option{dirfd.InRoot()}},
		{"NoXDev", []dirfd.Option{dirfd.NoXDev()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "real"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("real", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			d := openDir(t, dir, tc.opts...)
			for _, name := range []string{"a/b/c", "link/x/y", "a/../z/w", "./q/./r/"} {
				if err := d.MkdirAll(name, 0o755); err != nil {
					t.Fatalf("MkdirAll(%q): %v", name, err)
				}
				if fi, err := d.Stat(name); err != nil || !fi.IsDir() {
					t.Fatalf("after MkdirAll(%q): %v, %v", name, fi, err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "real", "x", "y")); err != nil {
				t.Fatalf("MkdirAll through the link: %v", err)
			}
		})
	}
}
