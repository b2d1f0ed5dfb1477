package main

import (
	"fmt"
	"time"
)

// Bounds of demo --seconds: long enough for the attack to win on a busy
// machine, short enough that nobody waits a minute by mistake.
const (
	demoDefaultSeconds = 3
	demoMaxSeconds     = 60
)

// demoSide is what one victim achieved while the attacker ran.
type demoSide struct {
	name     string
	attempts int
	escapes  int // writes that landed in the sentinel outside the root
	failed   int // writes refused (ErrEscape) or failed mid-swap (ENOENT ...)
}

// demoReport is the outcome of both runs.
type demoReport struct {
	kernel         string
	naive, guarded demoSide
}

func runDemo(e *env, args []string) error {
	flags := newFlags("demo")
	seconds := flags.Int("seconds", demoDefaultSeconds, "run each victim for `N` seconds (1 to 60)")
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) > 0 {
		return usagef("no operands expected, got %q", operands)
	}
	if *seconds < 1 || *seconds > demoMaxSeconds {
		return usagef("--seconds must be from 1 to %d, got %d", demoMaxSeconds, *seconds)
	}
	per := time.Duration(*seconds) * time.Second
	r, err := demoAttack(per)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "racefree demo: symlink-exchange attack, %d s per side, kernel %s\n", *seconds, r.kernel)
	fmt.Fprintf(e.stdout, "%-24s%8s%9s%16s\n", "victim", "attempts", "escapes", "refused/failed")
	for _, s := range []demoSide{r.naive, r.guarded} {
		fmt.Fprintf(e.stdout, "%-24s%8d%9d%16d\n", s.name, s.attempts, s.escapes, s.failed)
	}
	switch {
	case r.guarded.escapes > 0:
		// Must never happen: it would break guarantee G1.
		return fmt.Errorf("racefree wrote outside its root %d times", r.guarded.escapes)
	case r.naive.escapes == 0:
		fmt.Fprintln(e.stdout, "the attack did not win against the naive victim this time; racefree never escaped either.")
	default:
		fmt.Fprintf(e.stdout, "the naive victim wrote outside its root %d times; racefree never did.\n", r.naive.escapes)
	}
	return nil
}
