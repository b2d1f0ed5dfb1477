//go:build unix

package fstests

import (
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/eintr"
)

// swapper is the attacker of most attacks: it exchanges two names in one
// directory as fast as it can, so that at any instant either may be the
// other. Where the filesystem has no atomic exchange (FUSE and network
// filesystems often reject rename flags), it rotates the two through a
// third name with plain renames, which leaves short moments where one name
// is missing but swaps just as often.
type swapper struct {
	stop   atomic.Bool
	swaps  atomic.Int64
	fails  atomic.Int64
	atomic atomic.Bool // exchange worked; false once it was rejected
	done   chan struct{}
}

func startSwapper(dir, a, b string) *swapper {
	s := &swapper{done: make(chan struct{})}
	s.atomic.Store(true)
	pa, pb, tmp := filepath.Join(dir, a), filepath.Join(dir, b), filepath.Join(dir, a+".swap")
	go func() {
		defer close(s.done)
		for !s.stop.Load() {
			if s.atomic.Load() {
				err := eintr.Retry(func() error { return exchange(pa, pb) })
				if err == nil {
					s.swaps.Add(1)
					continue
				}
				if capability.Unsupported(err) {
					s.atomic.Store(false)
				} else {
					s.fails.Add(1)
					continue
				}
			}
			if rotate(pa, pb, tmp) {
				s.swaps.Add(1)
			} else {
				s.fails.Add(1)
			}
		}
	}()
	return s
}

// rotate swaps a and b through tmp. A step that fails undoes the ones
// before it, so that the scene is whole whenever the loop stops.
func rotate(a, b, tmp string) bool {
	if os.Rename(a, tmp) != nil {
		return false
	}
	if os.Rename(b, a) != nil {
		_ = os.Rename(tmp, a)
		return false
	}
	if os.Rename(tmp, b) != nil {
		_ = os.Rename(a, b)
		_ = os.Rename(tmp, a)
		return false
	}
	return true
}

// halt stops the attacker and waits for it, so nothing moves while the
// outcome is judged.
func (s *swapper) halt() {
	s.stop.Store(true)
	<-s.done
}
