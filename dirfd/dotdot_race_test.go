//go:build unix

package dirfd_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// TestDotDotAfterMoveOutStaysInside pins the walk's ".." rule (G1): ".."
// is applied to the components already resolved and the walk restarts
// from the root descriptor. The attacker moves root/a/b out of the tree
// (to out/b) and back, while the victim reads "a/b/c/d/e/../../../../x".
// A walk that applied ".." by opening ".." from the directory it is in
// would, once b has moved, climb through b to out and read out/x, a file
// that was never inside the tree. Reading root/a/x, or failing while b is
// away, is allowed.
//
// It runs under every resolver profile (TestMain re-executes the binary):
// the walk profiles take the walk on every call, and openat2 falls back to
// the walk when a rename races it too often (EAGAIN). The naive control is
// the walk as it is commonly written, which opens each component with
// O_NOFOLLOW relative to the last and ".." too (the kernel's own lookup of
// the joined path holds b for nanoseconds only, too short a window to be
// caught reliably); it must be caught reading out/x, or the attack proved
// nothing here.
func TestDotDotAfterMoveOutStaysInside(t *testing.T) {
	for _, side := range []struct {
		name  string
		naive bool
	}{{"naive", true}, {"racefree", false}} {
		t.Run(side.name, func(t *testing.T) {
			top := t.TempDir()
			root, out := filepath.Join(top, "root"), filepath.Join(top, "out")
			for _, dir := range []string{filepath.Join(root, "a", "b", "c", "d", "e"), out} {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for path, data := range map[string]string{filepath.Join(root, "a", "x"): "inside", filepath.Join(out, "x"): "outside"} {
				if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// Several levels below b and back: the lookup is inside b's
			// subtree for several steps, so a move of b lands there more
			// often than between two steps only.
			const name = "a/b/c/d/e/../../../../x"
			read := func() ([]byte, error) { return naiveWalkRead(root, name) }
			if !side.naive {
				d, err := dirfd.Open(root)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				read = func() ([]byte, error) { return d.ReadFile(name) }
			}
			r := dotDotRace(t, filepath.Join(root, "a", "b"), filepath.Join(out, "b"), side.naive, read)
			t.Logf("%s: %d reads (%d inside, %d refused), %d escapes, %d moves", side.name, r.ops, r.inside, r.refused, r.escapes, r.moves)
			switch {
			case !side.naive && r.escapes > 0:
				t.Fatalf("read out/x through %q %d times: \"..\" climbed out through a directory moved out of the tree", name, r.escapes)
			case !side.naive && (r.moves == 0 || r.inside == 0):
				t.Fatalf("inconclusive: %d moves, %d reads of a/x; the attack never met a whole lookup", r.moves, r.inside)
			case side.naive && r.escapes == 0 && requireControl():
				t.Fatalf("the naive control never read out/x in %d reads: the attack proves nothing on this machine", r.ops)
			case side.naive && r.escapes == 0:
				t.Skipf("inconclusive: the naive control never read out/x in %d reads (-short or -race)", r.ops)
			}
		})
	}
}

// naiveWalkRead opens name below root one component at a time, never
// following a symlink but opening ".." from the directory it is in, and
// reads the file.
func naiveWalkRead(root, name string) ([]byte, error) {
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	for _, part := range strings.Split(name, "/") {
		next, err := unix.Openat(fd, part, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return nil, err
		}
		fd = next
	}
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	return io.ReadAll(f)
}

type dotDotResult struct{ ops, inside, refused, escapes, moves int64 }

// dotDotRace reads with read while an attacker moves dir to away and back,
// for a fixed budget (stopping the naive control at its first escape).
func dotDotRace(t *testing.T, dir, away string, untilCaught bool, read func() ([]byte, error)) dotDotResult {
	t.Helper()
	var r dotDotResult
	var stop atomic.Bool
	var moves atomic.Int64
	var wg sync.WaitGroup
	var attackErr error
	wg.Go(func() {
		for !stop.Load() {
			if err := os.Rename(dir, away); err != nil {
				attackErr = err
				return
			}
			if err := os.Rename(away, dir); err != nil {
				attackErr = err
				return
			}
			moves.Add(1)
		}
	})
	budget, maxOps := 2*time.Second, int64(200_000)
	if testing.Short() || raceEnabled {
		budget, maxOps = 300*time.Millisecond, 20_000
	}
	if untilCaught {
		// The control stops at its first escape, usually at once; on a
		// loaded machine it may take longer, and a longer search costs
		// nothing when it is caught.
		budget, maxOps = 4*budget, 4*maxOps
	}
	for deadline := time.Now().Add(budget); r.ops < maxOps && time.Now().Before(deadline); {
		r.ops++
		got, err := read()
		switch {
		case err != nil:
			r.refused++
		case string(got) == "inside":
			r.inside++
		case string(got) == "outside":
			r.escapes++
		default:
			t.Errorf("read %q, neither file", got)
		}
		if untilCaught && r.escapes > 0 {
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if attackErr != nil {
		t.Fatalf("attacker: %v", attackErr)
	}
	r.moves = moves.Load()
	return r
}

// requireControl reports whether an attack whose naive control was never
// caught fails (the full run, which is the proof) rather than skips (-short
// and the race detector's run, at reduced budgets), as fstests decides.
func requireControl() bool { return !testing.Short() && !raceEnabled }
