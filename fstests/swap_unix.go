//go:build unix

package fstests

import (
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"time"

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
	seen   int64 // swaps as of the victim's last operation (see next)
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
		putBack(tmp, a)
		return false
	}
	if os.Rename(tmp, b) != nil {
		putBack(a, b)
		putBack(tmp, a)
		return false
	}
	return true
}

// putBack undoes one step of a rotation, renaming from back to to. A
// victim may have created to in the moment it was missing (MkdirAll makes
// every missing parent); that intruder holds only what the victim made, and
// is removed so that the object it displaced can return.
func putBack(from, to string) {
	for range 3 {
		if os.Rename(from, to) == nil {
			return
		}
		_ = os.RemoveAll(to)
	}
}

// next waits until the attacker has swapped since the victim's last
// operation, and reports whether the victim should go on. On a loaded
// machine the attacker and the victim run in turns rather than at once,
// and a victim that goes on while the attacker is off the CPU retries the
// same state of the scene many times over: waiting makes every operation
// a fresh draw of it.
func (s *swapper) next(b *budget, ops, escapes int64) bool {
	for spins := 0; b.more(ops, escapes); spins++ {
		if n := s.swaps.Load(); n != s.seen {
			s.seen = n
			return true
		}
		if spins < 8 {
			runtime.Gosched()
		} else {
			time.Sleep(50 * time.Microsecond)
		}
	}
	return false
}

// halt stops the attacker and waits for it, so nothing moves while the
// outcome is judged.
func (s *swapper) halt() {
	s.stop.Store(true)
	<-s.done
}
