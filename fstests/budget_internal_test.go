//go:build unix

package fstests

import (
	"testing"
	"time"
)

// TestNaiveControlGetsGrace: past its budget, a naive control not yet
// caught goes on (a slow filesystem must not leave an attack inconclusive
// for want of tries), a caught one stops at once, and the racefree side
// stops when its budget is spent.
func TestNaiveControlGetsGrace(t *testing.T) {
	const d = time.Second
	o := Options{Duration: d, Ops: 10}
	naive, ours := newBudget(o, true), newBudget(o, false)
	naive.more(0, 0)
	ours.more(0, 0)
	start := time.Now()
	time.Sleep(d + 50*time.Millisecond)
	if time.Since(start) > controlGrace*d-time.Second {
		t.Skip("the machine is too loaded to time a budget")
	}
	if !naive.more(1, 0) {
		t.Error("a naive control not yet caught stopped when its budget was spent")
	}
	if naive.more(1, 1) {
		t.Error("a caught naive control went on")
	}
	if ours.more(1, 0) {
		t.Error("the racefree side went on past its budget")
	}
	if !naive.more(o.Ops, 0) || naive.more(controlGrace*o.Ops, 0) {
		t.Errorf("a naive control's operation bound is not %d times the budget's", controlGrace)
	}
}
