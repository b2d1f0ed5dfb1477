//go:build unix

package fstests

import (
	"testing"
	"time"
)

// TestTreeSwapCatchesEachNaiveJob runs the tree-swap attack on one job at
// a time: each of the naive jobs (chown, chmod, copy, walk by path) must be
// caught on its own, so that the attack proves something for each tree
// operation and not only for the first one the cycle reaches, and racefree
// must never be.
func TestTreeSwapCatchesEachNaiveJob(t *testing.T) {
	saved := treeJobs
	defer func() { treeJobs = saved }()
	for _, job := range saved {
		t.Run(job, func(t *testing.T) {
			treeJobs = []string{job}
			o := Options{Duration: 2 * time.Second}
			naive := runTreeSwap(t, t.TempDir(), Naive, newBudget(o, true))
			if naive.Escapes == 0 {
				t.Errorf("the naive %s was never caught: %v", job, naive)
			}
			o.Duration = 300 * time.Millisecond
			ours := runTreeSwap(t, t.TempDir(), Racefree, newBudget(o, false))
			if ours.Escapes != 0 || ours.Moves == 0 {
				t.Errorf("racefree %s: %v", job, ours)
			}
			t.Log(naive)
			t.Log(ours)
		})
	}
}

// TestTreeSwapFileRoundsCatchNaiveJobs: with the attacker aiming only at
// the files (a file exchanged with a symlink to the sentinel while the
// job runs), the naive jobs that follow a final symlink (chmod(2), a copy
// that opens by path) are caught, and racefree's never are, nor its chown
// (by name, AT_SYMLINK_NOFOLLOW) or walk.
func TestTreeSwapFileRoundsCatchNaiveJobs(t *testing.T) {
	savedJobs, savedRounds := treeJobs, treeRounds
	defer func() { treeJobs, treeRounds = savedJobs, savedRounds }()
	treeRounds = []string{"files"}
	for _, job := range savedJobs {
		t.Run(job, func(t *testing.T) {
			treeJobs = []string{job}
			if job == "chmod" || job == "copy" {
				// The naive side stops when caught; its grace (five
				// budgets) is for a loaded machine, where the swapper
				// runs seldom.
				naive := runTreeSwap(t, t.TempDir(), Naive, newBudget(Options{Duration: 2 * time.Second}, true))
				switch {
				case naive.Escapes > 0:
				case testing.Short():
					t.Skipf("the naive %s was never caught in the reduced run: %v", job, naive)
				default:
					t.Errorf("the naive %s was never caught by the file swaps: %v", job, naive)
				}
				t.Log(naive)
			}
			ours := runTreeSwap(t, t.TempDir(), Racefree, newBudget(Options{Duration: 300 * time.Millisecond}, false))
			if ours.Escapes != 0 || ours.Moves == 0 {
				t.Errorf("racefree %s: %v", job, ours)
			}
			t.Log(ours)
		})
	}
}
