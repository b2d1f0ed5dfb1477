//go:build unix

package extract_test

import (
	"os"
	"syscall"
	"testing"
)

// TestMain fixes the umask, which the expected modes of directories made
// on the way (0755 less the umask) depend on.
func TestMain(m *testing.M) {
	syscall.Umask(0o022)
	os.Exit(m.Run())
}
