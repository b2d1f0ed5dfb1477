package fstests

import (
	"testing"

	"github.com/racefree/racefree/internal/testfs"
)

// TestConformance runs the conformance suite where users run it first, in
// a temporary directory, and on every filesystem of the test matrix.
func TestConformance(t *testing.T) {
	t.Run("tempdir", func(t *testing.T) { Conformance(t, Options{Dir: t.TempDir()}) })
	testfs.Each(t, func(t *testing.T, fs testfs.FS) { Conformance(t, Options{Dir: fs.Dir}) })
}
