//go:build unix

package fstests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"
)

// An attack replays one exploit. Each attack file registers its own.
type attack struct {
	name  string // sub-test and table name
	order int    // position in the suite and the table
	// skip, when set, says why the attack cannot run in this process
	// (another uid needs root, the platform lacks a primitive the
	// attacker needs), or "" when it can.
	skip func() string
	// run plays one side in dir, a fresh empty directory, spending b,
	// and returns what it counted. Escapes must be counted on both sides
	// in the same way: the verdict compares them.
	run func(t *testing.T, dir string, side Side, b *budget) Result
	// floor, when set, is how many victim operations a run that asks
	// for an operation bound (Options.Ops, the "full budget") must reach
	// even past Duration: an attack whose operations are slow (starting
	// a child) states its own minimum.
	floor int64
}

var registry struct {
	sync.Mutex
	attacks []attack
}

func register(a attack) {
	registry.Lock()
	defer registry.Unlock()
	registry.attacks = append(registry.attacks, a)
	sort.SliceStable(registry.attacks, func(i, j int) bool { return registry.attacks[i].order < registry.attacks[j].order })
}

func registered() []attack {
	registry.Lock()
	defer registry.Unlock()
	return slices.Clone(registry.attacks)
}

// AttackNames lists the attacks of the suite, in the order they run.
func AttackNames() []string {
	var names []string
	for _, a := range registered() {
		names = append(names, a.name)
	}
	return names
}

// Attacks runs the attack suite in fresh directories below o.Dir: each
// attack in a sub-test of its name, first with the naive victim and then
// with racefree, each side within the same budget.
func Attacks(t *testing.T, o Options) {
	t.Helper()
	checkOptions(t, o)
	for _, a := range registered() {
		if len(o.Attacks) > 0 && !slices.Contains(o.Attacks, a.name) {
			continue
		}
		t.Run(a.name, func(t *testing.T) {
			if a.skip != nil {
				if why := a.skip(); why != "" {
					t.Skip(why)
				}
			}
			naive := runSide(t, a, o, Naive)
			ours := runSide(t, a, o, Racefree)
			naive.Verdict = Caught
			if naive.Escapes == 0 {
				naive.Verdict = Inconclusive
			}
			ours.Verdict = Passed
			switch {
			case ours.Escapes > 0:
				ours.Verdict = Failed
			case naive.Escapes == 0, ours.Ops == 0, ours.Moves == 0:
				// A racefree side that never ran, or that nothing
				// attacked, proves no more than a control that was
				// never caught.
				ours.Verdict = Inconclusive
			}
			if o.Report != nil {
				o.Report(naive)
				o.Report(ours)
			}
			t.Log(naive)
			t.Log(ours)
			switch {
			case ours.Verdict == Failed:
				t.Errorf("racefree escaped: %v", ours)
			case ours.Verdict == Inconclusive && o.RequireControl:
				t.Errorf("inconclusive: %s, so this attack proved nothing here", whyInconclusive(naive, ours))
			case ours.Verdict == Inconclusive:
				t.Skipf("inconclusive: %s, so this attack proves nothing here", whyInconclusive(naive, ours))
			}
		})
	}
}

func runSide(t *testing.T, a attack, o Options, side Side) Result {
	t.Helper()
	dir, err := os.MkdirTemp(o.Dir, "fstests-"+a.name+"-"+string(side)+"-")
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	defer removeScene(t, dir)
	b := newBudget(o, side == Naive)
	if o.Ops > 0 {
		b.floor = a.floor
	}
	r := a.run(t, dir, side, b)
	r.Attack, r.Side = a.name, side
	if !b.start.IsZero() {
		r.Elapsed = time.Since(b.start)
	}
	return r
}

// removeScene removes an attack's directory. Scenes hold read-only
// directories and trees other uids made, so permissions are opened up
// first where that is what stops the removal.
func removeScene(t *testing.T, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err == nil {
		return
	}
	_ = walkChmodDirs(dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Errorf("fstests: removing %s: %v", dir, err)
	}
}

// budget is how long one side of an attack may run: until its duration
// has passed or its operation bound is reached, and, for the naive
// control, until it has been caught (more escapes prove nothing more).
//
// A naive control not yet caught when the budget is spent goes on, up to
// controlGrace times the budget: on a slow filesystem (FUSE under load
// manages a few victim operations a second) the budget can end before
// the first escape, and a control given too few tries proves nothing
// either way. A caught control stops at its first escape, so the grace
// costs time only where it is needed.
type budget struct {
	d           time.Duration
	start       time.Time // the first call of more: scene building is not spent from the budget
	deadline    time.Time
	ops         int64
	floor       int64 // operations to reach even past the deadline
	untilCaught bool
}

// controlGrace is how many budgets a naive control may spend before it
// is called inconclusive.
const controlGrace = 5

func newBudget(o Options, untilCaught bool) *budget {
	d := o.Duration
	if d <= 0 {
		d = 2 * time.Second
		if testing.Short() {
			d = 200 * time.Millisecond
		}
	}
	ops := o.Ops
	if untilCaught {
		d *= controlGrace
		ops *= controlGrace
	}
	return &budget{d: d, ops: ops, untilCaught: untilCaught}
}

// more reports whether a victim that has done ops operations and been
// caught escapes times should go on.
func (b *budget) more(ops, escapes int64) bool {
	if b.start.IsZero() {
		// A FUSE scene under load takes longer to build than a -short
		// budget lasts.
		b.start = time.Now()
		b.deadline = b.start.Add(b.d)
	}
	if b.untilCaught && escapes > 0 {
		return false
	}
	if b.ops > 0 && ops >= b.ops {
		return false
	}
	return ops < b.floor || time.Now().Before(b.deadline)
}

// walkChmodDirs gives the owner full access to every directory below dir,
// so that a tree left read-only can be removed.
func walkChmodDirs(dir string) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
}

func whyInconclusive(naive, ours Result) string {
	if naive.Escapes == 0 {
		return fmt.Sprintf("the naive control was never caught (%v)", naive)
	}
	if ours.Ops == 0 {
		return fmt.Sprintf("the racefree side did not get to run (%v)", ours)
	}
	return fmt.Sprintf("nothing attacked the racefree side (%v)", ours)
}
