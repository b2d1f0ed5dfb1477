//go:build unix

package unlinkat

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/dirstack"
)

// TestRemoveAllStopsWhenADirectoryWasMoved drives RemoveAll step by step:
// once the levels near the top have been released, the directory at level
// 1 (with everything below it, where RemoveAll is working) is moved out of
// the tree, next to a sentinel. Climbing back through "..", RemoveAll must
// find that the directory above level 1 is no longer the tree's top level
// and stop with ErrChanged, instead of emptying what ".." now leads to: the
// sentinel's directory.
func TestRemoveAllStopsWhenADirectoryWasMoved(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "keep"), []byte("sentinel"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(tmp, "tree")
	for range maxHeld + 8 {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "f"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		p = filepath.Join(p, "d")
	}
	dirfd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dirfd)
	top, err := dirstack.Identify(dirfd)
	if err != nil {
		t.Fatal(err)
	}

	r := &remover{dirfd: dirfd, top: top, stack: dirstack.New(maxHeld, errMoved)}
	defer r.closeAll()
	r.descend(dirfd, "tree", 0)
	for r.stack.Len() < maxHeld+4 {
		r.step()
	}
	if r.stack.Level(1).Held() || r.stack.Held() != maxHeld {
		t.Fatalf("level 1 should have been released (%d held)", r.stack.Held())
	}
	if err := os.Rename(filepath.Join(tmp, "tree", "d"), filepath.Join(outside, "moved")); err != nil {
		t.Fatal(err)
	}
	for steps := 0; r.stack.Len() > 0 && !r.stopped; steps++ {
		if steps > 10000 {
			t.Fatal("RemoveAll does not end")
		}
		r.step()
	}
	if !r.stopped || !errors.Is(r.err, fallback.ErrChanged) {
		t.Fatalf("RemoveAll went on (stopped %v) with %v; want a stop with ErrChanged", r.stopped, r.err)
	}
	t.Logf("stopped: %v", r.err)
	if data, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || string(data) != "sentinel" {
		t.Fatalf("the sentinel beside the moved directory: %q, %v", data, err)
	}
	if _, err := os.Lstat(filepath.Join(tmp, "tree")); err != nil {
		t.Fatalf("the top level, which RemoveAll could not get back to, was removed: %v", err)
	}
	if r.stack.Held() != 0 {
		t.Errorf("%d descriptors still held after the stop", r.stack.Held())
	}
}
