//go:build unix

package unlinkat_test

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

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/unlinkat"
)

func TestRemoveAllRemovesTreeWithoutFollowingSymlinks(t *testing.T) {
	tmp := t.TempDir()
	outside := filepath.Join(tmp, "outside")
	mustMkdir(t, outside)
	mustWrite(t, filepath.Join(outside, "keep"), "outside")
	tree := filepath.Join(tmp, "tree")
	for _, d := range []string{"", "a", "a/b", "a/b/c", "empty"} {
		mustMkdir(t, filepath.Join(tree, d))
	}
	mustWrite(t, filepath.Join(tree, "a/f"), "f")
	mustWrite(t, filepath.Join(tree, "a/b/c/g"), "g")
	for name, target := range map[string]string{"a/abs": outside, "a/b/rel": "../../../outside", "a/b/c/file": filepath.Join(outside, "keep")} {
		if err := os.Symlink(target, filepath.Join(tree, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unlinkat.RemoveAll(openDir(t, tmp), "tree"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("tree still there: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(outside, "keep")); err != nil || string(data) != "outside" {
		t.Fatalf("outside/keep: %q, %v", data, err)
	}
}

func TestRemoveAllSingleEntries(t *testing.T) {
	dir := t.TempDir()
	dfd := openDir(t, dir)
	mustWrite(t, filepath.Join(dir, "f"), "x")
	if err := os.Symlink("f", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(dir, "d"))
	for _, name := range []string{"l", "f", "d", "missing"} {
		if err := unlinkat.RemoveAll(dfd, name); err != nil {
			t.Errorf("RemoveAll(%s): %v", name, err)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %v", ents)
	}
}

func TestRemoveAllBadNames(t *testing.T) {
	dir := t.TempDir()
	mustMkdir(t, filepath.Join(dir, "a"))
	mustWrite(t, filepath.Join(dir, "a/f"), "x")
	dfd := openDir(t, dir)
	for _, name := range []string{"", ".", "..", "a/f", "a/", "a\x00"} {
		if err := unlinkat.RemoveAll(dfd, name); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("RemoveAll(%q) = %v, want EINVAL", name, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, "a/f")); err != nil {
		t.Errorf("a bad name removed something: %v", err)
	}
}

// TestRemoveAllKeepsGoingPastErrors: an entry that cannot be removed is
// reported and left; everything else is removed, as os.RemoveAll does.
func TestRemoveAllKeepsGoingPastErrors(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root may write a read-only directory")
	}
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	for _, d := range []string{"", "a", "locked", "locked/sub", "z"} {
		mustMkdir(t, filepath.Join(tree, d))
	}
	for _, f := range []string{"a/1", "locked/sub/2", "locked/3", "z/4"} {
		mustWrite(t, filepath.Join(tree, f), f)
	}
	if err := os.Chmod(filepath.Join(tree, "locked"), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(tree, "locked"), 0o755) })
	err := unlinkat.RemoveAll(openDir(t, tmp), "tree")
	var pe *fs.PathError
	if !errors.As(err, &pe) || !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("got %v, want a *fs.PathError with EACCES", err)
	}
	t.Logf("error: %v", err)
	for _, gone := range []string{"a", "z", "locked/sub/2"} {
		if _, err := os.Lstat(filepath.Join(tree, gone)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was not removed: %v", gone, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(tree, "locked/3")); err != nil {
		t.Errorf("locked/3: %v", err)
	}
}

// TestRemoveAllEndsOnRefilledDirectory: a directory that is refilled
// as fast as it is emptied makes RemoveAll give up (ENOTEMPTY) after a
// bounded number of rounds rather than run forever, or it wins the race.
func TestRemoveAllEndsOnRefilledDirectory(t *testing.T) {
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	mustMkdir(t, tree)
	var stop atomic.Bool
	var created atomic.Int64
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			fd, err := unix.Open(tree, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return
			}
			defer unix.Close(fd)
			for i := 0; !stop.Load(); i++ {
				name := fmt.Sprintf("%d-%d", w, i)
				if f, err := unix.Openat(fd, name, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644); err == nil {
					unix.Close(f)
					created.Add(1)
				}
			}
		})
	}
	dfd := openDir(t, tmp)
	for created.Load() < 100 {
		runtime.Gosched()
	}
	err := unlinkat.RemoveAll(dfd, "tree")
	stop.Store(true)
	wg.Wait()
	t.Logf("RemoveAll of a directory being refilled: %v", err)
	if err != nil && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("got %v, want nil or ENOTEMPTY", err)
	}
}

// buildDeep makes name in dirfd a chain of depth directories "d", each
// holding files f0..f2 and, every branchEvery levels, a side branch
// "side" with a chain of its own of branchDepth levels. Everything is
// made through descriptors: the paths are far longer than PATH_MAX.
func buildDeep(t testing.TB, dirfd int, name string, depth, branchEvery, branchDepth int) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	chain := func(fd int, name string, depth int, branch bool) {
		must(unix.Mkdirat(fd, name, 0o755))
		cur, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		must(err)
		for i := range depth {
			for j := range 3 {
				f, err := unix.Openat(cur, fmt.Sprintf("f%d", j), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
				must(err)
				unix.Close(f)
			}
			if branch && branchEvery > 0 && i%branchEvery == 0 {
				buildDeep(t, cur, "side", branchDepth, 0, 0)
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
	chain(dirfd, name, depth, true)
}

// withDescriptorLimit runs f with exactly extra descriptors left to open:
// every free number below the highest one open now is taken by a filler
// (descriptors are allocated lowest first, and the environment may have
// left a high one open), and RLIMIT_NOFILE stops just above it.
func withDescriptorLimit(t *testing.T, extra int, f func()) {
	t.Helper()
	highest := 0
	for fd := range 65536 {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			highest = fd
		}
	}
	var fillers []int
	defer func() {
		for _, fd := range fillers {
			unix.Close(fd)
		}
	}()
	for {
		fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if fd > highest {
			unix.Close(fd)
			break
		}
		fillers = append(fillers, fd)
	}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	setCur(&lim.Cur, highest+1+extra)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	f()
}

// setCur sets an rlimit field, int64 on some systems and uint64 on others.
func setCur[T int64 | uint64](cur *T, v int) { *cur = T(v) }

// TestRemoveAllDeepTreeFewDescriptors removes a tree far deeper than the
// descriptors it may open (RLIMIT_NOFILE leaves 24), with side branches
// that make it climb back up through ".." many times. os.RemoveAll, which
// holds a descriptor per level, is the control: it must run out.
func TestRemoveAllDeepTreeFewDescriptors(t *testing.T) {
	depth := 300
	if testing.Short() {
		depth = 100
	}
	tmp := t.TempDir()
	dfd := openDir(t, tmp)
	buildDeep(t, dfd, "control", 100, 0, 0)
	buildDeep(t, dfd, "tree", depth, 10, 30)
	var ours, control error
	withDescriptorLimit(t, 24, func() {
		ours = unlinkat.RemoveAll(dfd, "tree")
		control = os.RemoveAll(filepath.Join(tmp, "control"))
	})
	if ours != nil {
		t.Fatalf("RemoveAll of a %d-deep tree with 24 descriptors: %v", depth, ours)
	}
	if _, err := os.Lstat(filepath.Join(tmp, "tree")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("tree still there: %v", err)
	}
	if !errors.Is(control, syscall.EMFILE) {
		t.Fatalf("inconclusive: os.RemoveAll of a 100-deep tree under the same limit gave %v, want EMFILE", control)
	}
}
