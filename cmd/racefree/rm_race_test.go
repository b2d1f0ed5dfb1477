//go:build linux

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRmRecursiveEntersWhatItExamined pins `racefree rm -r` to the directory
// it examined (G1, G3). rm looks at NAME, finds a directory, and empties
// it; meanwhile the attacker keeps exchanging NAME with a symlink to a
// sibling directory that is not being removed (renameat2 RENAME_EXCHANGE,
// in a tight loop). An rm that enters the tree by name after the check
// follows the symlink and empties the sibling; one that enters through the
// handle it examined empties the directory it looked at, wherever that is
// now, and then leaves NAME alone if it no longer refers to it.
//
// The test judges behaviour only (the sibling's files must survive every
// round), so it holds whatever rm is built on. The naive control is rm -r
// as a script writes it, checking with lstat and then removing the
// entries by path; it must be caught, or the attack proved nothing here.
func TestRmRecursiveEntersWhatItExamined(t *testing.T) {
	for _, side := range []struct {
		name string
		rm   func(t *testing.T, dir string)
	}{
		{"naive", func(t *testing.T, dir string) { naiveRemoveTree(filepath.Join(dir, "victim")) }},
		{"racefree", func(t *testing.T, dir string) {
			r := racefree(t, dir, nil, "rm", "-r", "victim")
			if r.code != exitOK && r.code != exitFailed {
				t.Fatalf("rm -r: exit status %d\n%s", r.code, r.stderr)
			}
		}},
	} {
		t.Run(side.name, func(t *testing.T) {
			rounds, caught, swaps := rmRace(t, side.name == "naive", side.rm)
			t.Logf("%s: %d rounds, %d emptied the sibling, %d exchanges", side.name, rounds, caught, swaps)
			switch {
			case side.name == "racefree" && caught > 0:
				t.Fatalf("rm -r emptied a directory it was not asked to remove in %d of %d rounds", caught, rounds)
			case side.name == "racefree" && swaps == 0:
				t.Fatalf("inconclusive: no exchange landed in %d rounds", rounds)
			case side.name == "naive" && caught == 0 && !testing.Short():
				t.Fatalf("the naive control never emptied the sibling in %d rounds: the attack proves nothing on this machine", rounds)
			case side.name == "naive" && caught == 0:
				t.Skipf("inconclusive under -short: the naive control was never caught in %d rounds", rounds)
			}
		})
	}
}

// rmRace plays rounds of the attack until its budget is spent (or, with
// untilCaught, until the sibling was emptied once) and counts the rounds,
// those that emptied the sibling, and the exchanges.
func rmRace(t *testing.T, untilCaught bool, rm func(t *testing.T, dir string)) (rounds, caught int, swaps int64) {
	budget, maxRounds := 3*time.Second, 400
	if testing.Short() {
		budget, maxRounds = 500*time.Millisecond, 50
	}
	if untilCaught {
		// The control stops when it is caught, usually in the first
		// rounds; a loaded machine may need more, at no cost otherwise.
		budget, maxRounds = 4*budget, 4*maxRounds
	}
	for deadline := time.Now().Add(budget); rounds < maxRounds && time.Now().Before(deadline); rounds++ {
		dir := t.TempDir()
		for _, p := range []string{"victim/a/b", "victim/c", "sibling"} {
			must(t, os.MkdirAll(filepath.Join(dir, p), 0o755))
		}
		// The victim and the sibling hold files of the same names, so that
		// an rm that removes what it listed by name, at a moment the name
		// leads to the sibling, hits the sibling's file.
		for i := range 8 {
			name := "p" + strconv.Itoa(i)
			must(t, os.WriteFile(filepath.Join(dir, "victim", name), nil, 0o644))
			must(t, os.WriteFile(filepath.Join(dir, "sibling", name), []byte("keep"), 0o644))
		}
		must(t, os.Symlink("sibling", filepath.Join(dir, "lnk")))

		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		must(t, err)
		var stop atomic.Bool
		var n atomic.Int64
		var wg sync.WaitGroup
		wg.Go(func() {
			// Until rm has removed one of the two names.
			for !stop.Load() {
				if unix.Renameat2(fd, "victim", fd, "lnk", unix.RENAME_EXCHANGE) != nil {
					return
				}
				n.Add(1)
			}
		})
		rm(t, dir)
		stop.Store(true)
		wg.Wait()
		unix.Close(fd)
		swaps += n.Load()
		if siblingTouched(dir) {
			caught++
			if untilCaught {
				rounds++
				break
			}
		}
	}
	return rounds, caught, swaps
}

// siblingTouched reports whether any file of dir/sibling is gone or changed.
func siblingTouched(dir string) bool {
	for i := range 8 {
		data, err := os.ReadFile(filepath.Join(dir, "sibling", "p"+strconv.Itoa(i)))
		if err != nil || string(data) != "keep" {
			return true
		}
	}
	return false
}

// naiveRemoveTree is rm -r written with path calls: it checks that path
// is a directory and then removes what it lists there, by path.
func naiveRemoveTree(path string) error {
	fi, err := os.Lstat(path)
	if err != nil || !fi.IsDir() {
		return errors.Join(err, os.Remove(path))
	}
	entries, err := os.ReadDir(path)
	for _, e := range entries {
		err = errors.Join(err, os.RemoveAll(filepath.Join(path, e.Name())))
	}
	return errors.Join(err, os.Remove(path))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
