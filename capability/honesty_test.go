package capability_test

import (
	"testing"

	"github.com/racefree/racefree/fstests"
)

// TestReportMatchesTheKernel: every feature's report, the process's and
// the temporary directory's filesystem's, says what the kernel does when
// the feature is tried directly in this process, in both directions (a
// feature hidden, a feature claimed). Everything else in racefree trusts
// the report to pick between a primitive and its fallback, and both work,
// so a lie would pass every other test: the check is fstests.Capabilities,
// which fstests' conformance suite also runs on every filesystem, profile
// and uid of the matrix.
func TestReportMatchesTheKernel(t *testing.T) {
	fstests.Capabilities(t, fstests.Options{Dir: t.TempDir()})
}
