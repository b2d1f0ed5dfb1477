//go:build unix

package dirfd_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/reexec"
	"github.com/racefree/racefree/internal/testfs"
)

// TestMain runs the tests in this process and then the same test binary
// again under every other resolver profile and, when root, as uid 65534
// (internal/reexec). The filesystems of internal/testfs are mounted once, by
// this process when a test first asks, handed to every child, and released
// after the last child has exited.

const (
	childEnv    = reexec.ChildEnv
	noReexecEnv = reexec.NoReexecEnv
	nobodyID    = reexec.NobodyID
)

// profiles are the values of RACEFREE_DISABLE that select the three
// resolvers: openat2, the O_PATH component walk, and the portable walk.
var profiles = []string{"", "openat2", "all"}

func profileName(p string) string { return reexec.ProfileName(p) }

func TestMain(m *testing.M) {
	code := m.Run()
	if reexec.Wanted() {
		if reexec.Start(reexec.Children(profiles))() != 0 && code == 0 {
			code = 1
		}
	}
	// Only now: the children work on the filesystems this process mounted.
	if err := testfs.Release(); err != nil {
		fmt.Printf("=== racefree: releasing the test filesystems: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// profile is the RACEFREE_DISABLE value this process runs under.
func profile() string { return os.Getenv(capability.EnvDisable) }
