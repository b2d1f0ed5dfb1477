package reexec

import (
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
)

// mountNSEnv marks a test binary re-executed by InMountNamespace and names
// the test it runs.
const mountNSEnv = "RACEFREE_TEST_MOUNTNS"

// InMountNamespace runs the calling test again in a child of this test
// binary that has a mount namespace of its own, so that nothing the test
// mounts can outlive it or be seen elsewhere, whatever happens to it. It
// returns true in that child, where the test goes on to mount what it
// needs; in the parent it waits for the child, logs its output, fails the
// test if the child failed, and returns false, after which the test
// returns. The child keeps this process's profile (RACEFREE_DISABLE) and
// never re-executes further. Mounting needs root: the caller skips first.
func InMountNamespace(t *testing.T) bool {
	t.Helper()
	if os.Getenv(mountNSEnv) == t.Name() {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v", "-test.run=^"+regexp.QuoteMeta(t.Name())+"$")
	cmd.Env = append(os.Environ(), mountNSEnv+"="+t.Name(), NoReexecEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / private in it
	out, err := cmd.CombinedOutput()
	t.Logf("child in a private mount namespace:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return false
}
