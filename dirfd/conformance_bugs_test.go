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
