//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// raBuildDeep makes name in dirfd a chain of depth directories "d", each
// holding three files, through descriptors (the paths are far longer than
// PATH_MAX).
func raBuildDeep(t *testing.T, dirfd int, name string, depth int) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(unix.Mkdirat(dirfd, name, 0o755))
	cur, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	must(err)
	for i := range depth {
		for j := range 3 {
			f, err := unix.Openat(cur, fmt.Sprintf("f%d", j), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			must(err)
			unix.Close(f)
		}
		if i == depth-1 {
			break
		}
		must(unix.Mkdirat(cur, "d", 0o755))
		next, err := unix.Openat(cur, "d", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		must(err)
		unix.Close(cur)
		cur = next
	}
	unix.Close(cur)
}

// raPeakDescriptors runs f while a goroutine counts the entries of
// /proc/self/fd as fast as it can, and returns the most it saw above the
// count before f (less the sampler's own descriptor).
func raPeakDescriptors(t *testing.T, f func()) int {
	t.Helper()
	count := func() int {
		ents, _ := os.ReadDir("/proc/self/fd")
		return len(ents) - 1
	}
	base := count()
	if base <= 0 {
		t.Fatal("cannot list /proc/self/fd")
	}
	var peak atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if n := int64(count() - base); n > peak.Load() {
				peak.Store(n)
			}
		}
	})
	f()
	stop.Store(true)
	wg.Wait()
	return int(peak.Load())
}

// TestRemoveAllDeepTreeBoundedDescriptors removes a tree 2000 levels deep
// with three files per level and watches the process's descriptors: at
// most 17 may be open for it at any time. os.RemoveAll, which holds one per
// level, is the control that shows the sampler can see descriptors pile up
// (300 levels are enough for that).
// (unlinkat's own test makes the bound exact with RLIMIT_NOFILE.)
func TestRemoveAllDeepTreeBoundedDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	depth := 2000
	if testing.Short() {
		depth = 500
	}
	root := t.TempDir()
	rfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	const controlDepth = 300
	raBuildDeep(t, rfd, "tree", depth)
	raBuildDeep(t, rfd, "control", controlDepth)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	var rerr error
	ours := raPeakDescriptors(t, func() { rerr = d.RemoveAll("tree") })
	if rerr != nil {
		t.Fatalf("RemoveAll of a %d-deep tree: %v", depth, rerr)
	}
	if _, err := d.Lstat("tree"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("tree still there: %v", err)
	}
	control := raPeakDescriptors(t, func() { rerr = os.RemoveAll(filepath.Join(root, "control")) })
	t.Logf("peak descriptors above the baseline: racefree %d for depth %d, os.RemoveAll %d for depth %d (%v)", ours, depth, control, controlDepth, rerr)
	if control < controlDepth/4 {
		t.Fatalf("inconclusive: the sampler saw only %d descriptors during os.RemoveAll of a %d-deep tree", control, controlDepth)
	}
	if ours > 17 {
		t.Errorf("RemoveAll held up to %d descriptors, want at most 17", ours)
	}
}

// The tmp-cleaner attack: a privileged cleaner removes a tree another user
// can write to; that user keeps swapping a directory in the tree for a
// symlink pointing outside it, hoping the cleaner follows it and removes
// what the link points to. The naive cleaner (lstat, then recurse by path,
// os.Remove by path) must be caught removing something outside; RemoveAll
// must never touch the outside tree.

const raDirs = 2

// raBuildVictim makes root/victim: x0 and x1, each with files and a
// subdirectory, l0 and l1, symlinks to the outside tree (absolute and
// relative), and plain files beside them.
func raBuildVictim(t *testing.T, root, outside string) {
	t.Helper()
	spec := "dir victim\nfile victim/f1 1\nfile victim/f2 2\n"
	for k := range raDirs {
		spec += fmt.Sprintf("dir victim/x%[1]d\nfile victim/x%[1]d/a A\nfile victim/x%[1]d/b B\ndir victim/x%[1]d/sub\nfile victim/x%[1]d/sub/c C\n", k)
		target := outside
		if k%2 == 1 {
			target = "../../" + filepath.Base(outside)
		}
		spec += fmt.Sprintf("symlink victim/l%d %s\n", k, target)
	}
	buildTree(t, root, spec)
}

// raExchange atomically swaps two names (set in verified_linux_test.go,
// with RENAME_EXCHANGE); nil where the test has no way to.
var raExchange func(a, b string) error

// raSwapper flips victim/xK between directory and symlink, one goroutine
// per K, until halted.
type raSwapper struct {
	stop  atomic.Bool
	swaps atomic.Int64
	wg    sync.WaitGroup
}

func raStartSwapper(victim string) *raSwapper {
	s := &raSwapper{}
	for k := range raDirs {
		x, l := filepath.Join(victim, fmt.Sprint("x", k)), filepath.Join(victim, fmt.Sprint("l", k))
		s.wg.Go(func() {
			for !s.stop.Load() {
				if raExchange(x, l) == nil {
					s.swaps.Add(1)
				} else {
					runtime.Gosched() // one of them is gone: the round is ending
				}
			}
		})
	}
	return s
}

func (s *raSwapper) halt() {
	s.stop.Store(true)
	s.wg.Wait()
}

// raNaiveRemoveAll is the path-based cleaner: it decides by lstat, then
// lists and removes by path, so a directory swapped for a symlink between
// the lstat and the listing is followed.
func raNaiveRemoveAll(path string) {
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	if fi.IsDir() {
		ents, _ := os.ReadDir(path)
		for _, e := range ents {
			raNaiveRemoveAll(filepath.Join(path, e.Name()))
		}
	}
	os.Remove(path)
}

type raResult struct {
	rounds, escapes int
	swaps           int64
	errs            map[string]int
}

// raAttack runs rounds of: build the victim tree, start the swapper,
// remove the tree with remove, halt the swapper, compare the outside tree
// with its snapshot (and rebuild it after an escape). It stops after
// budget, or at the first escape when stopAtFirst.
func raAttack(t *testing.T, remove func(root string) error, budget time.Duration, stopAtFirst bool) raResult {
	t.Helper()
	tmp := t.TempDir()
	root, outside := filepath.Join(tmp, "root"), filepath.Join(tmp, "outside")
	outsideSpec := "dir outside\nfile outside/a keep-a\nfile outside/b keep-b\ndir outside/sub\nfile outside/sub/c keep-c\nfile outside/secret keep\n"
	buildTree(t, tmp, "dir root\n"+outsideSpec)
	want := snapshot(t, outside)
	res := raResult{errs: map[string]int{}}
	start := time.Now()
	for time.Since(start) < budget && !(stopAtFirst && res.escapes > 0) {
		res.rounds++
		raBuildVictim(t, root, outside)
		s := raStartSwapper(filepath.Join(root, "victim"))
		err := remove(root)
		s.halt()
		res.swaps += s.swaps.Load()
		if err != nil {
			res.errs[raErrClass(err)]++
		}
		if diff := cmp.Diff(want, snapshot(t, outside)); diff != "" {
			res.escapes++
			t.Logf("round %d: outside changed (-want +got):\n%s", res.rounds, diff)
			if err := os.RemoveAll(outside); err != nil {
				t.Fatal(err)
			}
			buildTree(t, tmp, outsideSpec)
		}
		// What is left of the victim (after an error) goes, with nothing
		// moving now.
		if err := os.RemoveAll(filepath.Join(root, "victim")); err != nil {
			t.Fatal(err)
		}
	}
	return res
}

// raErrClass names an error by its errno, or ErrChanged.
func raErrClass(err error) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, dirfd.ErrChanged):
		return "ErrChanged"
	case errors.As(err, &errno):
		return errno.Error()
	}
	return err.Error()
}

func TestAttackTmpCleaner(t *testing.T) {
	if raExchange == nil {
		t.Skip("no atomic exchange here to attack with")
	}
	naive := raAttack(t, func(root string) error {
		raNaiveRemoveAll(filepath.Join(root, "victim"))
		return nil
	}, 10*time.Second, true)
	t.Logf("naive: %d rounds, %d escapes, %d swaps", naive.rounds, naive.escapes, naive.swaps)
	if naive.escapes == 0 {
		t.Fatalf("inconclusive: the naive cleaner never removed anything outside in %d rounds (%d swaps): the harness cannot see an escape", naive.rounds, naive.swaps)
	}

	budget := 2 * time.Second
	if testing.Short() {
		budget = 400 * time.Millisecond
	}
	var d *dirfd.Dir
	res := raAttack(t, func(root string) error {
		if d == nil {
			var err error
			if d, err = dirfd.Open(root); err != nil {
				t.Fatal(err)
			}
		}
		return d.RemoveAll("victim")
	}, budget, false)
	if d != nil {
		d.Close()
	}
	t.Logf("racefree: %d rounds, %d escapes, %d swaps, errors %v", res.rounds, res.escapes, res.swaps, res.errs)
	if res.swaps == 0 {
		t.Fatalf("inconclusive: the attacker never swapped")
	}
	if res.escapes != 0 {
		t.Errorf("RemoveAll removed something outside the tree in %d of %d rounds", res.escapes, res.rounds)
	}
}
