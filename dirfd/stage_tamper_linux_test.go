//go:build linux

package dirfd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
)

// TestInstallVersionsRenamedAway: another user who renames NAME.versions
// away the moment it appears (inotify) cannot keep Install looping, nor
// make it leave more than a few of them behind per call.
func TestInstallVersionsRenamedAway(t *testing.T) {
	if !runWithout(t, capability.RenameExchange) {
		return
	}
	root := t.TempDir()
	d := openDir(t, root)
	in, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(in)
	if _, err := unix.InotifyAddWatch(in, root, unix.IN_CREATE|unix.IN_MOVED_TO); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var moved atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 4096)
		for i := 0; !stop.Load(); {
			fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}}
			if n, _ := unix.Poll(fds, 10); n <= 0 {
				continue
			}
			if _, err := unix.Read(in, buf); err != nil {
				continue
			}
			i++
			if os.Rename(filepath.Join(root, "site.versions"), filepath.Join(root, fmt.Sprint("junk-", i))) == nil {
				moved.Add(1)
			}
		}
	}()
	const installs = 20
	for range installs {
		d.Install("site", buildVersion(1)) // may fail: the name keeps changing
	}
	stop.Store(true)
	wg.Wait()
	junk := 0
	for _, n := range entryNames(t, root) {
		if strings.HasPrefix(n, "junk-") {
			junk++
		}
	}
	t.Logf("%d renames, %d NAME.versions left behind by %d Installs", moved.Load(), junk, installs)
	if moved.Load() == 0 {
		t.Skip("the attacker never got to rename NAME.versions")
	}
	// Each Install makes NAME.versions at most maxVersionsRounds (4)
	// times.
	if junk > 4*installs {
		t.Errorf("%d NAME.versions left behind by %d Installs", junk, installs)
	}
}
