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
	"testing"

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
