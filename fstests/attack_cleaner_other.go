//go:build unix && !linux

package fstests

import (
	"runtime"
	"testing"
)

// striker is the cleaner's attacker where there is no inotify to time it
// with: a swapper started at the start of each round, which swaps blind.
type striker struct{}

type strike struct{ sw *swapper }

func newStriker(*testing.T) *striker { return &striker{} }

// arm starts swapping dir/a and dir/b, and returns once the swapper has
// made its first move: a removal that is over before the attacker's
// goroutine first runs proves nothing.
func (*striker) arm(t *testing.T, dir, a, b string) *strike {
	t.Helper()
	sw := startSwapper(dir, a, b)
	for sw.swaps.Load()+sw.fails.Load() == 0 {
		runtime.Gosched()
	}
	return &strike{sw: sw}
}

// halt stops the round's attacker, waits for it, and reports whether it
// swapped.
func (*striker) halt(s *strike) bool {
	s.sw.halt()
	return s.sw.swaps.Load() > 0
}

func (*striker) close() {}

// heldDir names dir for an attacker; here that is dir itself.
func heldDir(_ *testing.T, dir string) (at string, release func()) { return dir, func() {} }
