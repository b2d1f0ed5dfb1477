//go:build linux

package dirfd_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/staging"
)

// verifiedKillEnv names the directory TestVerifiedKillChild works in.
const verifiedKillEnv = "RACEFREE_TEST_VERIFIED_KILL_DIR"

// verifiedKillObjects is how many objects the child works on.
const verifiedKillObjects = 4

// TestVerifiedKillChild is the process TestVerifiedSurvivesSIGKILL kills:
// for ever, it asks to remove and to rename each object obj-I with a
// handle of another object (so each call takes the object aside, finds it
// is not the expected one and puts it back), and renames it with its own
// handle to r-I and back.
func TestVerifiedKillChild(t *testing.T) {
	dir := os.Getenv(verifiedKillEnv)
	if dir == "" {
		t.Skip("the helper process of TestVerifiedSurvivesSIGKILL")
	}
	d, err := dirfd.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	decoy, err := d.OpenHandle("decoy")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("working")
	for {
		for i := range verifiedKillObjects {
			obj, moved := fmt.Sprintf("obj-%d", i), fmt.Sprintf("r-%d", i)
			if err := d.RemoveIfSame(obj, decoy); !errors.Is(err, dirfd.ErrChanged) {
				t.Fatalf("RemoveIfSame with another's handle: %v", err)
			}
			if err := d.RenameIfSame(obj, decoy, moved); !errors.Is(err, dirfd.ErrChanged) {
				t.Fatalf("RenameIfSame with another's handle: %v", err)
			}
			h, err := d.OpenHandle(obj)
			if err != nil {
				t.Fatal(err)
			}
			if err := errors.Join(d.RenameIfSame(obj, h, moved), d.RenameIfSame(moved, h, obj)); err != nil {
				t.Fatal(err)
			}
			h.Close()
		}
	}
}

// TestVerifiedSurvivesSIGKILL kills a process doing verified removals and
// renames at random moments, then runs RemoveStale(0): every object is
// still there, whole, under its name, the name it was being renamed to, or
// a visible conflict name where RemoveStale put back what a kill left in a
// move-aside place (S4: leftovers are restored, never destroyed).
func TestVerifiedSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("runs in the parent test process only: hundreds of processes killed are enough once, not once per profile")
	}
	kills, wantAside := 200, 20
	if testing.Short() {
		kills, wantAside = 40, 2
	}
	dir := memTempDir(t)
	want := map[string]string{} // content -> the object's name
	for i := range verifiedKillObjects {
		name := fmt.Sprintf("obj-%d", i)
		want[fmt.Sprintf("object %d\n", i)] = name
		if err := os.WriteFile(filepath.Join(dir, name), fmt.Appendf(nil, "object %d\n", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "decoy"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, dir)
	midOp := 0
	for k := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestVerifiedKillChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), verifiedKillEnv+"="+dir, capability.EnvDisable+"="+profile(),
			noReexecEnv+"=1", childEnv+"=verified kill")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "working\n" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child said %q, %v; stderr:\n%s", k, line, err, stderr.String())
		}
		time.Sleep(rand.N(3 * time.Millisecond))
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("kill %d: the child was not killed; stderr:\n%s", k, stderr.String())
		}
		if asideLeftover(t, dir) {
			midOp++
		}
		if _, err := d.RemoveStale(0); err != nil {
			t.Fatalf("kill %d: RemoveStale(0): %v", k, err)
		}
		// Every object whole, exactly once; put back under its own name
		// for the next round.
		found := map[string]string{}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			n := e.Name()
			if n == "decoy" || strings.HasPrefix(n, staging.Prefix) {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatalf("kill %d: %s: %v", k, n, err)
			}
			obj, ok := want[string(data)]
			switch {
			case !ok:
				t.Fatalf("kill %d: %s holds %q, no object's content", k, n, data)
			case found[obj] != "":
				t.Fatalf("kill %d: %s found twice, as %s and %s", k, obj, found[obj], n)
			case n != obj && n != "r-"+strings.TrimPrefix(obj, "obj-") && !strings.HasPrefix(n, fallback.ConflictPrefix):
				t.Fatalf("kill %d: %s found as %s", k, obj, n)
			}
			found[obj] = n
			if n != obj {
				if err := os.Rename(filepath.Join(dir, n), filepath.Join(dir, obj)); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, obj := range want {
			if found[obj] == "" {
				t.Fatalf("kill %d: %s was lost", k, obj)
			}
		}
	}
	t.Logf("%d kills, %d of them while an object was in a move-aside place", kills, midOp)
	if midOp < wantAside {
		t.Errorf("only %d of %d kills landed while an object was aside, want at least %d: the test proved little", midOp, kills, wantAside)
	}
}

// asideLeftover reports whether dir holds a private directory with
// something in it (the child makes no stage but its move-aside places).
func asideLeftover(t *testing.T, dir string) bool {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), staging.Prefix) {
			if in, _ := os.ReadDir(filepath.Join(dir, e.Name())); len(in) > 0 {
				return true
			}
		}
	}
	return false
}
