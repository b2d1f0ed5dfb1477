//go:build unix

package fstests

import (
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testfs"
)

// TestAttackLogrotate is the quick check of the log-rotation attack on
// every filesystem of the matrix; the matrix test gives it full budgets.
func TestAttackLogrotate(t *testing.T) {
	testfs.Each(t, func(t *testing.T, fs testfs.FS) {
		Attacks(t, Options{Dir: fs.Dir, Duration: 300 * time.Millisecond, RequireControl: true,
			Attacks: []string{"logrotate"}})
	})
}
