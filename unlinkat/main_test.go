//go:build unix

package unlinkat_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/racefree/racefree/capability"
)

// profileEnv marks a child started by TestProfiles. The capability report
// is fixed once per process from RACEFREE_DISABLE, so the weaker sequences
// can only be exercised in another process.
const profileEnv = "RACEFREE_UNLINKAT_CHILD"

// TestProfiles re-runs the tests whose outcome depends on the profile
// without the no-replace rename (directories can then not be moved aside)
// and without anything.
func TestProfiles(t *testing.T) {
	if os.Getenv(profileEnv) != "" {
		t.Skip("already a profile child")
	}
	for _, profile := range []string{"rename_noreplace", "all"} {
		cmd := exec.Command(os.Args[0], "-test.count=1", "-test.run=^Test(RemoveIfSame|Methods)")
		if testing.Short() {
			cmd.Args = append(cmd.Args, "-test.short")
		}
		cmd.Env = append(os.Environ(), profileEnv+"=1", capability.EnvDisable+"="+profile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s=%s: %v\n%s", capability.EnvDisable, profile, err, out)
		}
	}
}
