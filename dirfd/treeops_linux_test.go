package dirfd_test

import (
	"os"
	"strings"
	"testing"

	"github.com/racefree/racefree/dirfd"
)

// TestHardlinksProtectedReadsTheKernel compares what the tree operations
// believe about fs.protected_hardlinks with the sysctl itself.
func TestHardlinksProtectedReadsTheKernel(t *testing.T) {
	data, err := os.ReadFile("/proc/sys/fs/protected_hardlinks")
	if err != nil {
		t.Skipf("no sysctl to compare with: %v", err)
	}
	want := strings.TrimSpace(string(data)) != "0"
	if got := dirfd.HardlinksProtected(); got != want {
		t.Errorf("HardlinksProtected() = %v, the sysctl says %q", got, data)
	}
}
