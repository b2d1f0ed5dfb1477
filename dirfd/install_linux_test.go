//go:build linux

package dirfd_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/staging"
)

// The SIGKILL test re-executes the test binary running TestInstallKillChild,
// which installs into the directory named by installKillEnv until it is
// killed (or once, with installOnceEnv set).
const (
	installKillEnv  = "RACEFREE_TEST_INSTALL_KILL_DIR"
	installOnceEnv  = "RACEFREE_TEST_INSTALL_ONCE"
	installPhaseEnv = "RACEFREE_TEST_INSTALL_PHASE" // a file the child maps and keeps its phase in
)

// The phases of the killed child, as it records them in the shared page,
// so that the parent knows where each kill landed.
const (
	phaseIdle    = iota // between two Installs
	phaseBuild          // inside Install, building the tree
	phasePublish        // inside Install, build done: publishing
)

// TestInstallKillChild is the process TestInstallSurvivesSIGKILL kills: it
// installs tree after tree, keeping the previous one as "prev".
func TestInstallKillChild(t *testing.T) {
	dir := os.Getenv(installKillEnv)
	if dir == "" {
		t.Skip("the helper process of TestInstallSurvivesSIGKILL")
	}
	d, err := dirfd.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	phase := &atomic.Uint32{} // a page nobody reads when there is no parent
	if name := os.Getenv(installPhaseEnv); name != "" {
		phase = mapPhase(t, name)
	}
	fmt.Println("installing")
	for v := os.Getpid() * 1000; ; v++ {
		build := buildVersion(v)
		phase.Store(phaseBuild)
		err := d.Install("tree", func(stage *dirfd.Dir) error {
			err := build(stage)
			phase.Store(phasePublish)
			return err
		}, dirfd.KeepPrevious("prev"))
		phase.Store(phaseIdle)
		if err != nil {
			t.Fatal(err)
		}
		if os.Getenv(installOnceEnv) != "" {
			return
		}
	}
}

// mapPhase maps the first word of the file name, shared with the other
// process, so that the child's stores are seen by the parent at once and
// survive the child's death, at no syscall's cost.
func mapPhase(t *testing.T, name string) *atomic.Uint32 {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mem, err := unix.Mmap(int(f.Fd()), 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	return (*atomic.Uint32)(unsafe.Pointer(&mem[0])) // page-aligned
}

// TestInstallSurvivesSIGKILL kills a process that installs in a loop, in
// both layouts: every other kill at a random moment, the others aimed at
// the publication (a random few microseconds after the child's build has
// returned, while Install swaps the tree in and retires the old one). After
// every kill the name, and the KeepPrevious name, hold a whole tree of one
// version, and everything else the kill left carries the staging prefix
// (or, in the versioned layout, is a version that the next Install
// prunes). The child records its phase in a shared page; a run whose
// kills did not land inside the publication often enough proves nothing
// about it and fails.
func TestInstallSurvivesSIGKILL(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("runs in the parent test process only: hundreds of processes killed are enough once, not once per profile")
	}
	kills := 200
	if testing.Short() {
		kills = 20
	}
	for _, layout := range []struct {
		name    string
		disable capability.Feature
		kills   int
	}{
		{"direct", "", kills},
		{"versioned", capability.RenameExchange, kills / 2},
	} {
		t.Run(layout.name, func(t *testing.T) {
			if layout.disable == "" && !capability.Has(capability.RenameExchange) {
				t.Skip("rename_exchange is disabled in this profile")
			}
			dir := memTempDir(t)
			disable := profile()
			if layout.disable != "" {
				disable += "," + string(layout.disable)
			}
			phaseFile := filepath.Join(t.TempDir(), "phase")
			if err := os.WriteFile(phaseFile, make([]byte, os.Getpagesize()), 0o600); err != nil {
				t.Fatal(err)
			}
			phase := mapPhase(t, phaseFile)
			child := func(once bool) *exec.Cmd {
				cmd := exec.Command(os.Args[0], "-test.run=^TestInstallKillChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), installKillEnv+"="+dir, capability.EnvDisable+"="+disable,
					noReexecEnv+"=1", childEnv+"=install kill", installPhaseEnv+"="+phaseFile)
				if once {
					cmd.Env = append(cmd.Env, installOnceEnv+"=1")
				}
				return cmd
			}
			if out, err := child(true).CombinedOutput(); err != nil {
				t.Fatalf("first install: %v\n%s", err, out)
			}
			d := openDir(t, dir)
			leftAfter, landed := 0, [3]int{}
			for k := range layout.kills {
				phase.Store(phaseIdle)
				cmd := child(false)
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "installing\n" {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatalf("kill %d: child said %q, %v; stderr:\n%s", k, line, err, stderr.String())
				}
				if k%2 == 0 {
					time.Sleep(rand.N(5 * time.Millisecond))
				} else {
					aimAtPublish(phase)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				err = cmd.Wait()
				if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
					t.Fatalf("kill %d: the child was not killed but ended with %v; stderr:\n%s", k, err, stderr.String())
				}
				landed[phase.Load()]++
				if checkAfterKill(t, d, dir, k) {
					leftAfter++
				}
			}
			t.Logf("%d kills: %d between Installs, %d while building, %d while publishing; %d left staging leftovers",
				layout.kills, landed[phaseIdle], landed[phaseBuild], landed[phasePublish], leftAfter)
			if want := layout.kills / 4; landed[phasePublish] < want {
				t.Fatalf("only %d of %d kills landed while Install was publishing, fewer than %d: this run proves nothing about an interrupted publication", landed[phasePublish], layout.kills, want)
			}
		})
	}
}

// aimAtPublish waits until the child is publishing, then a random 0 to
// 200 µs more, spinning rather than sleeping: a sleep's granularity is
// coarser than the publication.
func aimAtPublish(phase *atomic.Uint32) {
	for deadline := time.Now().Add(time.Second); phase.Load() != phasePublish && time.Now().Before(deadline); {
		runtime.Gosched()
	}
	for until := time.Now().Add(rand.N(200 * time.Microsecond)); time.Now().Before(until); {
	}
}

// checkAfterKill checks the directory after a kill and removes the
// leftovers with RemoveStale, reporting whether there were any.
func checkAfterKill(t *testing.T, d *dirfd.Dir, dir string, k int) bool {
	t.Helper()
	for _, name := range []string{"tree", "prev"} {
		tree, err := d.OpenDir(name)
		if name == "prev" && os.IsNotExist(err) {
			continue // killed before the first install that kept one
		}
		if err != nil {
			t.Fatalf("kill %d: %s: %v", k, name, err)
		}
		_, err = treeVersion(tree)
		tree.Close()
		if err != nil {
			t.Fatalf("kill %d: %s is not a whole tree: %v", k, name, err)
		}
	}
	var left []string
	for _, n := range entryNames(t, dir) {
		switch {
		case n == "tree", n == "prev":
		case n == "tree"+dirfd.VersionsSuffix:
			checkVersionsAfterKill(t, filepath.Join(dir, n), k)
		case strings.HasPrefix(n, staging.Prefix):
			left = append(left, n)
		default:
			t.Fatalf("kill %d left %s, which does not carry the staging prefix", k, n)
		}
	}
	removed, err := d.RemoveStale(0)
	if err != nil || removed != len(left) {
		t.Fatalf("kill %d: RemoveStale(0) removed %d, %v; the leftovers were %v", k, removed, err, left)
	}
	return len(left) > 0
}

// checkVersionsAfterKill: NAME.versions holds only versions, their
// retirement records and its lock.
func checkVersionsAfterKill(t *testing.T, versions string, k int) {
	t.Helper()
	for _, n := range entryNames(t, versions) {
		if n == ".racefree-lock" {
			continue
		}
		if id := strings.TrimSuffix(n, ".retired"); len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
			t.Fatalf("kill %d: %s holds %s, neither a version nor a retirement record", k, versions, n)
		}
	}
}
