//go:build unix

package fstests_test

import (
	"os"
	"testing"

	"github.com/racefree/racefree/fstests"
)

// hereEnv, set to a directory (or to "tempdir" for t.TempDir), makes
// TestHere run.
const hereEnv = "RACEFREE_FSTESTS_HERE"

// TestHere runs the suites once, in this process's capability profile, in
// the directory $RACEFREE_FSTESTS_HERE names: the quick way to run one
// suite while working on it, and how the mutation check (internal/mutants)
// runs an attack without mounting the matrix's filesystems. TestMatrix,
// which runs everything on every filesystem, profile and uid, is the proof;
// without the variable this test skips, so as not to repeat it.
//
//	RACEFREE_FSTESTS_HERE=tempdir RACEFREE_TEST_NOREEXEC=1 go test -run 'TestHere/attacks/leak' ./fstests
func TestHere(t *testing.T) {
	dir := os.Getenv(hereEnv)
	switch dir {
	case "":
		t.Skipf("set %s to a directory (or to tempdir) to run the suites there; TestMatrix runs them everywhere", hereEnv)
	case "tempdir":
		dir = t.TempDir()
	}
	fstests.Run(t, fstests.Options{Dir: dir, RequireControl: !testing.Short() && !raceEnabled})
}
