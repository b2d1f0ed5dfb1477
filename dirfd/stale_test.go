//go:build unix

package dirfd_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRemoveStale: leftovers of ours are removed with their contents
// (symlinks in them are removed, not followed); everything else that looks
// like one is left alone: conflict entries, non-directories, directories
// others can enter, symlinks to directories, and leftovers in
// subdirectories (RemoveStale does not recurse).
func TestRemoveStale(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "root")
	buildTree(t, top, `
		dir root
		dir outside
		file outside/sentinel keep
	`)
	buildTree(t, root, `
		dir .racefree-0123abcd
		file .racefree-0123abcd/file staged
		dir .racefree-0123abcd/tree
		dir .racefree-0123abcd/tree/sub
		file .racefree-0123abcd/tree/sub/f x
		symlink .racefree-0123abcd/tree/out $ROOT/../outside
		symlink .racefree-0123abcd/out2 ../../outside/sentinel
		chmod .racefree-0123abcd 0700
		dir .racefree-probe-00ff
		file .racefree-probe-00ff/a
		chmod .racefree-probe-00ff 0700
		dir .racefree-empty
		chmod .racefree-empty 0700

		dir .racefree-conflict-77
		file .racefree-conflict-77/precious data
		chmod .racefree-conflict-77 0700
		file .racefree-file not a stage
		dir .racefree-open
		file .racefree-open/f x
		chmod .racefree-open 0755
		symlink .racefree-link $ROOT/../outside
		dir keep
		dir keep/.racefree-nested
		chmod keep/.racefree-nested 0700
		file f content
	`)
	want := snapshot(t, top, "root/.racefree-0123abcd", "root/.racefree-probe-00ff", "root/.racefree-empty")
	d := openDir(t, root)

	// Fresh leftovers are not older than an hour.
	if n, err := d.RemoveStale(time.Hour); err != nil || n != 0 {
		t.Errorf("RemoveStale(1h) of fresh leftovers = %d, %v; want 0, nil", n, err)
	}
	n, err := d.RemoveStale(0)
	if err != nil {
		t.Fatalf("RemoveStale(0): %v", err)
	}
	if n != 3 {
		t.Errorf("RemoveStale(0) removed %d, want 3", n)
	}
	assertSameTree(t, want, snapshot(t, top))
	if n, err := d.RemoveStale(0); err != nil || n != 0 {
		t.Errorf("second RemoveStale(0) = %d, %v; want 0, nil", n, err)
	}
}

// TestRemoveStaleOthers: as root, a staging directory of another user is
// not ours to remove.
func TestRemoveStaleOthers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory owned by another user")
	}
	root := t.TempDir()
	buildTree(t, root, `
		dir .racefree-theirs
		file .racefree-theirs/f x
		chmod .racefree-theirs 0700
	`)
	if err := os.Chown(filepath.Join(root, ".racefree-theirs"), nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, root)
	d := openDir(t, root)
	if n, err := d.RemoveStale(0); err != nil || n != 0 {
		t.Errorf("RemoveStale(0) = %d, %v; want 0, nil", n, err)
	}
	assertSameTree(t, want, snapshot(t, root))
}
