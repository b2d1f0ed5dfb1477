//go:build unix

package extract_test

import (
	"os"
	"syscall"
	"testing"

	"github.com/racefree/racefree/internal/reexec"
)

// profiles are the capability profiles the tests run under again, each in
// a child process (internal/reexec), and as uid 65534 when root: openat2
// and the component walk; every primitive (O_TMPFILE, linking descriptors,
// rename flags) present or none (the staged files, hard links by name).
var profiles = []string{"", "openat2", "all"}

// TestMain fixes the umask, which the expected modes of directories made
// on the way (0755 less the umask) depend on, and runs the children.
func TestMain(m *testing.M) {
	syscall.Umask(0o022)
	code := m.Run()
	if reexec.Wanted() {
		if reexec.Start(reexec.Children(profiles))() != 0 && code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
