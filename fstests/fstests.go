// Package fstests is racefree's proof, packaged so that anyone can run it:
// a conformance suite that exercises every dirfd.Dir method, option and
// documented error, and an attack suite that replays real exploits
// (symlink exchange, directory swap during removal, log-rotation races,
// identity swaps, replace windows, descriptor leaks) against a Dir while
// an attacker changes the same directories.
//
// Call Run from a test, on a directory of the filesystem you care about
// (NFS, FUSE, overlayfs, a bind mount in a container):
//
//	func TestRacefreeHere(t *testing.T) {
//		fstests.Run(t, fstests.Options{Dir: "/mnt/nfs/scratch"})
//	}
//
// Every attack runs twice in the same budget: once with a deliberately
// naive, path-based victim and once with racefree. The naive victim is the
// positive control: it must be caught escaping, or the attack proves
// nothing on this filesystem and kernel, and the result is reported as
// inconclusive (a skipped sub-test, or a failure with
// Options.RequireControl) rather than as a pass. So is a racefree side
// that the attacker never got to touch (Result.Moves is zero). racefree
// must never be caught.
//
// An escape is what the exploit was after: a descriptor whose device and
// inode belong to the sentinel tree outside the victim's root, or any
// change under that tree. Both trees live in a fresh directory below
// Options.Dir, so even the naive victim's escapes only ever touch files the
// suite created.
//
// The capability profile (RACEFREE_DISABLE) is read once per process, so a
// test binary exercises one profile; run it again with the variable set to
// cover the fallbacks, as racefree's own matrix does.
//
// The attacks need a unix system, and identity, tamper and leak Linux
// (O_PATH handles, per-thread credentials, /proc); elsewhere an attack that
// cannot run is not registered, and Attacks skips off unix with the reason.
package fstests

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// Options says where and for how long the suites run.
type Options struct {
	// Dir is an existing directory on the filesystem under test. The
	// suites work in fresh directories below it and remove them when done.
	// Required.
	Dir string

	// Duration bounds each side (naive, racefree) of each attack. Zero
	// means 2 s, or 200 ms under -short. The naive control stops at its
	// first escape; one not caught within Duration goes on for up to
	// five times as long (and five times Ops), so that a slow filesystem
	// does not leave the attack inconclusive for want of tries.
	Duration time.Duration

	// Ops, when positive, ends a side once its victim has performed this
	// many operations, even before Duration has passed. Zero means no
	// bound on operations.
	Ops int64

	// RequireControl turns an attack whose naive control was never
	// caught into a failure. Without it such an attack is skipped as
	// inconclusive.
	RequireControl bool

	// Report, when set, receives the counts of every attack side as soon
	// as it has run, for tables such as racefree's CI matrix.
	Report func(Result)

	// Attacks, when set, restricts the attack suite to the named attacks
	// (see AttackNames).
	Attacks []string

	// NoConformance skips the conformance suite.
	NoConformance bool
}

// Result is what one side of one attack counted.
type Result struct {
	Attack  string // the attack's name, as in AttackNames
	Side    Side   // the victim that ran
	Ops     int64  // victim operations attempted
	Escapes int64  // escapes observed (for Racefree, must be 0)
	Refused int64  // victim operations that failed, typically refused mid-swap
	// Moves counts what the other party did meanwhile: the attacker's
	// swaps or rewrites, the readers' reads, the opener's calls. A side
	// with none was never attacked, and proves nothing.
	Moves   int64
	Elapsed time.Duration // time the side ran
	Verdict Verdict
	Detail  string // what was seen, in a few words
}

// Side is the victim of an attack run.
type Side string

const (
	Naive    Side = "naive"    // path-based calls: the positive control
	Racefree Side = "racefree" // the same work through racefree
)

// Verdict judges one side of an attack.
type Verdict string

const (
	// Passed: racefree was never caught, and the naive control was.
	Passed Verdict = "pass"
	// Failed: racefree was caught escaping.
	Failed Verdict = "FAIL"
	// Inconclusive: the naive control was never caught, so the attack
	// did not show it could catch anything here.
	Inconclusive Verdict = "inconclusive"
	// Caught: the naive control was caught, as it must be.
	Caught Verdict = "caught"
)

// Run runs the conformance suite and then the attack suite as sub-tests
// of t ("conformance", "attacks").
func Run(t *testing.T, o Options) {
	t.Helper()
	checkOptions(t, o)
	if !o.NoConformance {
		t.Run("conformance", func(t *testing.T) { Conformance(t, o) })
	}
	t.Run("attacks", func(t *testing.T) { Attacks(t, o) })
}

// Conformance runs the conformance suite: every Dir method, option and
// documented error, in fresh directories below o.Dir. Only o.Dir is used.
//
// Expectations that depend on the filesystem come from its capability
// report (capability.ProbeDir, which makes .racefree-probe- scratch
// directories there), so a report that is wrong about the filesystem fails
// the suite. Ownership changes are checked only as root. The suite needs
// write permission on o.Dir.
func Conformance(t *testing.T, o Options) {
	t.Helper()
	checkOptions(t, o)
	conformance(t, o.Dir)
}

// Capabilities runs the conformance suite's capability check alone: every
// feature of the process report, and of the report for o.Dir's filesystem
// (capability.ProbeDir), against what the kernel does when the feature is
// tried directly in this process, in both directions: a feature the report
// calls missing that the kernel provides (unless RACEFREE_DISABLE names
// it), and a feature it calls available that the kernel refuses. A package
// that decides on the report (capability's own tests, a caller's fallback
// logic) runs it to prove the report honest where it runs. Conformance
// includes it. Only o.Dir is used.
func Capabilities(t *testing.T, o Options) {
	t.Helper()
	checkOptions(t, o)
	conformance(t, o.Dir, "Capabilities")
}

func checkOptions(t *testing.T, o Options) {
	t.Helper()
	if o.Dir == "" {
		t.Fatal("fstests: Options.Dir is empty")
	}
	fi, err := os.Stat(o.Dir)
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	if !fi.IsDir() {
		t.Fatalf("fstests: %s is not a directory", o.Dir)
	}
}

func (r Result) String() string {
	s := fmt.Sprintf("%s/%s: %d ops, %d escapes, %d refused, %d attacker moves in %v: %s",
		r.Attack, r.Side, r.Ops, r.Escapes, r.Refused, r.Moves, r.Elapsed.Round(time.Millisecond), r.Verdict)
	if r.Detail != "" {
		s += " (" + r.Detail + ")"
	}
	return s
}
