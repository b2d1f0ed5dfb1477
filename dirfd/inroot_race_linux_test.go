package dirfd_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// TestInRootLookupRacingAMoveOutIsNotAnEscape: in InRoot mode nothing can
// leave the root, but openat2 answers EXDEV when a directory the lookup
// went through is moved out of the root meanwhile. That is a race, as
// EAGAIN is: racefree must retry it, and never report a bare escape. The
// attacker swaps a directory on the lookup's path with one outside the
// root in a loop; the control asks openat2 once per lookup, as racefree
// used to, and must see EXDEV at least once for the run to prove anything.
func TestInRootLookupRacingAMoveOutIsNotAnEscape(t *testing.T) {
	const minLookups, maxLookups = 2000, 200000
	base := t.TempDir()
	root := filepath.Join(base, "root")
	for _, dir := range []string{"root/a/b/c", "out/c"} {
		if err := os.MkdirAll(filepath.Join(base, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const name = "a/b/c/../../b/c/.."

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			unix.Renameat2(unix.AT_FDCWD, filepath.Join(root, "a", "b"), unix.AT_FDCWD, filepath.Join(base, "out"), unix.RENAME_EXCHANGE)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()

	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	d := openDir(t, root, dirfd.InRoot())
	// Control and racefree take turns, so both meet the same race; the
	// run ends once the control has met EXDEV a few times (or after a
	// bound on the lookups, never on a clock).
	controlEXDEV, n := 0, 0
	tally := map[string]int{}
	for ; n < maxLookups && (n < minLookups || controlEXDEV < 3); n++ {
		how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
		fd, err := unix.Openat2(rfd, name, &how)
		if err == nil {
			unix.Close(fd)
		}
		if err == unix.EXDEV {
			controlEXDEV++
		}

		_, err = d.Stat(name)
		if err == nil {
			tally["ok"]++
			continue
		}
		tally[atkErrClass(err)]++
		if errors.Is(err, dirfd.ErrEscape) && !errors.Is(err, syscall.EXDEV) {
			t.Fatalf("InRoot Stat(%q) under a move-out race = %v: a bare escape, which InRoot cannot have", name, err)
		}
	}
	t.Logf("control: %d EXDEV of %d lookups; racefree (%s): %v", controlEXDEV, n, profileName(profile()), tally)
	if controlEXDEV == 0 {
		t.Skipf("the control never met EXDEV in %d lookups: the race was not hit, so this run proves nothing", n)
	}
}
