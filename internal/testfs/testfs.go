// Package testfs gives tests scratch directories on several real
// filesystems (ext4, xfs, btrfs, tmpfs, and a FUSE filesystem), so that what
// the kernel decides per filesystem (rename flags, O_TMPFILE, whiteouts,
// link rules) is tested where users meet it rather than only on whatever
// filesystem holds TMPDIR.
//
// As root on Linux, the first Each in a process makes a sparse image per
// disk filesystem, formats it, loop-mounts it, mounts a tmpfs, and mounts a
// FUSE loopback that refuses every renameat2 flag with EINVAL (as many FUSE
// and network filesystems do), all under one fresh directory in /dev/shm
// (in memory, so fsync is cheap) or else os.TempDir; being fresh, it is
// never in the way of a leftover of an earlier, killed run. Each mount
// holds a world-writable, sticky scratch directory, and every sub-test
// works in a fresh directory of its own inside it, so that concurrent test
// processes never meet.
//
// A test binary that re-executes itself (dirfd's TestMain does, once per
// capability profile and as uid 65534) passes Env to its children, which
// then reuse the parent's mounts: the unprivileged ones could not mount
// their own, and the privileged ones need not pay for it again.
//
// The process that mounted releases everything with Release, which its
// TestMain calls once its children are done. Should it never get there (a
// panic, -timeout, SIGKILL), a watchdog process it started before mounting
// anything unmounts and removes everything as soon as it has exited, however
// it exited. The watchdog is also the FUSE server, so that no test process
// ever waits on itself (see fuse_linux.go).
//
// Without root, the disk and FUSE filesystems are skipped with the reason,
// tmpfs is /dev/shm when that is a writable tmpfs, and if no filesystem is
// available at all, the test runs once in t.TempDir, as "tempdir".
package testfs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// EnvVar carries the filesystems of a parent test process to the test
// binaries it re-executes (see Env).
const EnvVar = "RACEFREE_TESTFS"

// FS is one filesystem as a test sees it.
type FS struct {
	// Name is the filesystem type: "ext4", "xfs", "btrfs", "tmpfs",
	// "fuse" (the loopback without rename flags), or "tempdir" for
	// t.TempDir when no other filesystem is available.
	Name string
	// Dir is an empty directory on that filesystem, private to the calling
	// sub-test and removed when it ends.
	Dir string
}

// cell is one filesystem of the matrix as prepared (or inherited) by this
// process: where sub-tests make their directories, or why it is skipped.
type cell struct {
	Name    string `json:"name"`
	Scratch string `json:"scratch,omitempty"` // a sticky, world-writable directory on the filesystem
	Skip    string `json:"skip,omitempty"`    // why the filesystem is not available
}

// owner is what a process that mounted the filesystems must undo.
type owner interface {
	release() error
}

var state struct {
	mu       sync.Mutex
	prepared bool
	released bool
	cells    []cell
	err      error
	owned    owner // nil unless this process mounted something
}

// Each runs fn once per filesystem of the matrix, each in a sub-test named
// after the filesystem, with a fresh empty directory on it. A filesystem
// that is not available gives a skipped sub-test saying why. The matrix is
// prepared by the first call in the process (or inherited through EnvVar)
// and shared by every later one.
func Each(t *testing.T, fn func(t *testing.T, fs FS)) {
	t.Helper()
	EachFrom(t, 0, fn)
}

// EachFrom is Each starting at the filesystem with index start (modulo
// their number) and wrapping around. Test processes that run at once and
// start at different filesystems do not all load the same one together:
// one filesystem's journal flushes slow down everything on it.
func EachFrom(t *testing.T, start int, fn func(t *testing.T, fs FS)) {
	t.Helper()
	cells, err := matrix()
	if err != nil {
		t.Fatalf("testfs: %v", err)
	}
	available := false
	for _, c := range cells {
		available = available || c.Skip == ""
	}
	if !available {
		t.Logf("testfs: no filesystem of the matrix is available (%s); using t.TempDir", skipReasons(cells))
		t.Run("tempdir", func(t *testing.T) { fn(t, FS{Name: "tempdir", Dir: t.TempDir()}) })
		return
	}
	for i := range cells {
		c := cells[(start+i)%len(cells)]
		t.Run(c.Name, func(t *testing.T) {
			if c.Skip != "" {
				t.Skip(c.Skip)
			}
			dir, err := os.MkdirTemp(c.Scratch, "test-")
			if err != nil {
				t.Fatalf("testfs: %v", err)
			}
			t.Cleanup(func() {
				if err := os.RemoveAll(dir); err != nil {
					t.Errorf("testfs: removing %s: %v", dir, err)
				}
			})
			fn(t, FS{Name: c.Name, Dir: dir})
		})
	}
}

func skipReasons(cells []cell) string {
	var reasons []string
	for _, c := range cells {
		reasons = append(reasons, c.Skip)
	}
	return strings.Join(reasons, "; ")
}

// matrix prepares the filesystems on first use: inherited from a parent
// through EnvVar, or made here.
func matrix() ([]cell, error) {
	state.mu.Lock()
	defer state.mu.Unlock()
	if state.released {
		return nil, errors.New("Each called after Release")
	}
	if !state.prepared {
		state.prepared = true
		if v, ok := os.LookupEnv(EnvVar); ok {
			state.err = json.Unmarshal([]byte(v), &state.cells)
			if state.err != nil {
				state.err = fmt.Errorf("%s from the parent process: %w", EnvVar, state.err)
			}
		} else {
			state.cells, state.owned, state.err = prepare()
		}
	}
	return state.cells, state.err
}

// Env returns the environment entry (as "KEY=value", for exec.Cmd.Env) that
// hands this process's filesystems to a re-executed test binary, or nil if
// no test has asked for them yet. Children of the same binary with the same
// flags run the same tests, so a parent that prepared nothing has children
// that need nothing from it.
func Env() []string {
	state.mu.Lock()
	defer state.mu.Unlock()
	if !state.prepared || state.err != nil || state.released {
		return nil
	}
	b, err := json.Marshal(state.cells)
	if err != nil {
		panic(err) // strings only: cannot happen
	}
	return []string{EnvVar + "=" + string(b)}
}

// Release unmounts and removes what this process mounted, and waits until
// that is done. It does nothing in a process that mounted nothing (one that
// inherited the filesystems, or one without root). Call it from TestMain
// after the tests and after every child that was given Env has exited.
func Release() error {
	state.mu.Lock()
	defer state.mu.Unlock()
	state.released = true
	if state.owned == nil {
		return nil
	}
	err := state.owned.release()
	state.owned = nil
	return err
}
