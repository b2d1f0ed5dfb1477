//go:build linux

package fstests

import (
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testfs"
)

// TestAttackIdentity is the quick check of the identity-pinning attack on
// every filesystem of the matrix; the matrix test gives it full budgets.
func TestAttackIdentity(t *testing.T) {
	testfs.Each(t, func(t *testing.T, fs testfs.FS) {
		Attacks(t, Options{Dir: fs.Dir, Duration: 300 * time.Millisecond, RequireControl: true,
			Attacks: []string{"identity"}})
	})
}
