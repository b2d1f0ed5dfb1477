//go:build unix

package dirfd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/staging"
)

// removeKeptStages removes the empty stages of dir, as anyone who may
// write a directory without the sticky bit may (or another process's
// RemoveStale of an idle Dir's stage, in any directory).
func removeKeptStages(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	for _, name := range entryNames(t, dir) {
		if k, ok := staging.KindOf(name); ok && k == staging.Stage && os.Remove(filepath.Join(dir, name)) == nil {
			n++
		}
	}
	return n
}

// TestRemovedStageIsReplaced: a kept stage removed between operations is
// noticed and replaced at the next use, whatever errno the filesystem
// gives for creating in a removed directory (ENOENT; EPERM for O_TMPFILE
// on ext4), and never again after.
func TestRemovedStageIsReplaced(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	for i := range 20 {
		if err := d.WriteFile("f", []byte("x"), 0o644); err != nil {
			t.Fatalf("WriteFile %d: %v", i, err)
		}
		if removeKeptStages(t, root) != 1 {
			t.Fatalf("round %d: no kept stage to remove", i)
		}
		if err := d.ReplaceSymlink("f", "l"); err != nil {
			t.Fatalf("ReplaceSymlink %d: %v", i, err)
		}
		removeKeptStages(t, root)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close with its stage removed: %v", err)
	}
}

// TestCommitAfterStageRemoved: the stage of an unnamed file (O_TMPFILE)
// is empty until Commit, so it can be removed under it; Commit then names
// the file in a new stage.
func TestCommitAfterStageRemoved(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	for i := range 10 {
		f, err := d.CreateAtomic("f", 0o644)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString("new")
		removeKeptStages(t, root) // fails while a named file is staged: fine
		if err := f.Commit(); err != nil {
			t.Fatalf("Commit %d after the stage was removed: %v", i, err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(root, "f")); err != nil || string(data) != "new" {
		t.Errorf("f = %q, %v", data, err)
	}
}

// TestSetgidParent: a directory made in a set-group-ID parent inherits the
// bit; a stage there is still a private directory of ours, and nothing is
// refused or left behind.
func TestSetgidParent(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o775|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(root); err != nil || fi.Mode()&os.ModeSetgid == 0 {
		t.Skipf("the filesystem keeps no set-group-ID bit on directories: %v", err)
	}
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteFile("f", []byte("x"), 0o644); err != nil {
		t.Errorf("WriteFile: %v", err)
	}
	if err := d.ReplaceSymlink("f", "l"); err != nil {
		t.Errorf("ReplaceSymlink: %v", err)
	}
	h, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveIfSame("f", h); err != nil {
		t.Errorf("RemoveIfSame: %v", err)
	}
	h.Close()
	if err := d.Install("tree", buildVersion(1)); err != nil {
		t.Errorf("Install: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	for _, n := range entryNames(t, root) {
		if strings.HasPrefix(n, staging.Prefix) {
			t.Errorf("left behind: %s", n)
		}
	}
}

// TestRemoveStaleLeavesProbeNamedTree: a directory under a probe's name
// whose entries carry the probe's names but are directories is not the
// probe's (it makes files only): RemoveStale leaves it, and what is in it.
func TestRemoveStaleLeavesProbeNamedTree(t *testing.T) {
	root := t.TempDir()
	const name = ".racefree-probe-00112233445566778899aabbccddeeff"
	buildTree(t, root, `
		dir `+name+`
		dir `+name+`/a
		dir `+name+`/a/deep
		file `+name+`/a/deep/precious data
		file `+name+`/t x
		chmod `+name+` 0700
	`)
	d := openDir(t, root)
	if n, err := d.RemoveStale(0); err != nil || n != 0 {
		t.Errorf("RemoveStale(0) = %d, %v; want 0, nil", n, err)
	}
	if _, err := os.Stat(filepath.Join(root, name, "a", "deep", "precious")); err != nil {
		t.Errorf("the tree under a probe's name was removed: %v", err)
	}
}
