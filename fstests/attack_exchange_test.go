//go:build unix

package fstests

import (
	"testing"
	"time"

	"github.com/racefree/racefree/internal/testfs"
)

// TestAttackExchange is the quick check of the symlink-exchange attacks on
// every filesystem of the matrix; the matrix test gives them full budgets.
func TestAttackExchange(t *testing.T) {
	testfs.Each(t, func(t *testing.T, fs testfs.FS) {
		Attacks(t, Options{Dir: fs.Dir, Duration: 300 * time.Millisecond, RequireControl: true,
			Attacks: []string{"exchange-abs", "exchange-rel"}})
	})
}
