//go:build unix

package dirfd_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/racefree/racefree/fallback"
)

// Names of leftovers as racefree makes them: 32 hex digits after the
// prefix, and entries of the form NewName gives.
const (
	staleStage  = ".racefree-0123456789abcdef0123456789abcdef"
	staleProbe  = ".racefree-probe-00ff00ff00ff00ff00ff00ff00ff00ff"
	staleEmpty  = ".racefree-eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	staleAside  = ".racefree-aside-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	staleVictim = ".racefree-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	nonce       = "0123456789abcdef"
)

// TestRemoveStale pins S4: a stage or probe directory holding only names
// racefree makes there is removed with its contents (symlinks in it are
// removed, not followed); a move-aside place's objects are put back under
// visible conflict names, never removed; everything else that looks like a
// leftover is left alone: a directory under a stage's name that holds
// anything racefree does not make (a victim's private directory an
// attacker renamed there), conflict entries, names without the random
// part, non-directories, directories others can enter, symlinks to
// directories, and leftovers in subdirectories (RemoveStale does not
// recurse).
func TestRemoveStale(t *testing.T) {
	top := t.TempDir()
	root := filepath.Join(top, "root")
	buildTree(t, top, `
		dir root
		dir outside
		file outside/sentinel keep
	`)
	buildTree(t, root, `
		dir `+staleStage+`
		file `+staleStage+`/file-`+nonce+`-1 staged
		dir `+staleStage+`/tree-`+nonce+`-2
		dir `+staleStage+`/tree-`+nonce+`-2/sub
		file `+staleStage+`/tree-`+nonce+`-2/sub/f x
		symlink `+staleStage+`/tree-`+nonce+`-2/out $ROOT/../outside
		symlink `+staleStage+`/link-`+nonce+`-3 ../../outside/sentinel
		chmod `+staleStage+` 0700
		dir `+staleProbe+`
		file `+staleProbe+`/a
		chmod `+staleProbe+` 0700
		dir `+staleEmpty+`
		chmod `+staleEmpty+` 0700
		dir `+staleAside+`
		file `+staleAside+`/object-`+nonce+`-7 somebody's data
		chmod `+staleAside+` 0700

		dir `+staleVictim+`
		file `+staleVictim+`/precious data
		file `+staleVictim+`/file-`+nonce+`-1 looks like ours
		chmod `+staleVictim+` 0700
		dir .racefree-conflict-77
		file .racefree-conflict-77/precious data
		chmod .racefree-conflict-77 0700
		dir .racefree-0123abcd
		chmod .racefree-0123abcd 0700
		file .racefree-file not a stage
		dir .racefree-open
		file .racefree-open/f x
		chmod .racefree-open 0755
		symlink .racefree-link $ROOT/../outside
		dir keep
		dir keep/`+staleEmpty+`
		chmod keep/`+staleEmpty+` 0700
		file f content
	`)
	want := snapshot(t, top, "root/"+staleStage, "root/"+staleProbe, "root/"+staleEmpty, "root/"+staleAside)
	d := openDir(t, root)

	// Fresh leftovers are not older than an hour.
	if n, err := d.RemoveStale(time.Hour); err != nil || n != 0 {
		t.Errorf("RemoveStale(1h) of fresh leftovers = %d, %v; want 0, nil", n, err)
	}
	n, err := d.RemoveStale(0)
	if err != nil {
		t.Fatalf("RemoveStale(0): %v", err)
	}
	if n != 4 {
		t.Errorf("RemoveStale(0) removed %d, want 4", n)
	}
	got := snapshot(t, top)
	restored := 0
	for name, e := range got {
		if rest, ok := strings.CutPrefix(name, "root/"+fallback.ConflictPrefix); ok && rest != "" {
			if e.Content != "somebody's data" {
				t.Errorf("%s holds %q", name, e.Content)
			}
			restored++
			delete(got, name)
		}
	}
	if restored != 1 {
		t.Errorf("%d objects of the move-aside place put back, want 1", restored)
	}
	assertSameTree(t, want, got)
	if n, err := d.RemoveStale(0); err != nil || n != 0 {
		t.Errorf("second RemoveStale(0) = %d, %v; want 0, nil", n, err)
	}
}

// TestRemoveStaleLeavesLive: the stage a Dir keeps between operations is
// not a leftover, whatever the age given.
func TestRemoveStaleLeavesLive(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	if err := d.WriteFile("f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, err := d.RemoveStale(0); err != nil || n != 0 {
		t.Errorf("RemoveStale(0) with a kept stage = %d, %v; want 0, nil", n, err)
	}
	if err := d.WriteFile("f", []byte("y"), 0o644); err != nil {
		t.Fatalf("WriteFile after RemoveStale: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(root)
	if len(entries) != 1 {
		t.Errorf("after Close: %v, want only f", entries)
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
		dir `+staleEmpty+`
		chmod `+staleEmpty+` 0700
	`)
	if err := os.Chown(filepath.Join(root, staleEmpty), nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, root)
	d := openDir(t, root)
	if n, err := d.RemoveStale(0); err != nil || n != 0 {
		t.Errorf("RemoveStale(0) = %d, %v; want 0, nil", n, err)
	}
	assertSameTree(t, want, snapshot(t, root))
}
