package main

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// demoEscapes returns the escapes column of the table row starting with
// victim.
func demoEscapes(t *testing.T, out, victim string) int {
	t.Helper()
	for line := range strings.Lines(out) {
		rest, ok := strings.CutPrefix(line, victim)
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 3 {
			t.Fatalf("row %q has %d number columns, want 3:\n%s", line, len(fields), out)
		}
		n, err := strconv.Atoi(fields[1])
		if err != nil {
			t.Fatalf("row %q: escapes column: %v", line, err)
		}
		return n
	}
	t.Fatalf("no row for %q:\n%s", victim, out)
	return 0
}

// runDemoOnce runs the demo with TMPDIR pointing at a fresh directory, checks
// the table and that nothing was left behind, and returns the escapes of
// the naive victim.
func runDemoOnce(t *testing.T, seconds string) int {
	t.Helper()
	tmp := t.TempDir()
	r := racefree(t, tmp, []string{"TMPDIR=" + tmp}, "demo", "--seconds", seconds)
	r.expect(t, exitOK, []string{
		"racefree demo: symlink-exchange attack, " + seconds + " s per side, kernel ",
		"victim                  attempts  escapes  refused/failed\n",
	}, nil)
	if t.Failed() {
		t.FailNow()
	}
	if n := demoEscapes(t, r.stdout, "racefree dirfd.Dir"); n != 0 {
		t.Fatalf("racefree escaped %d times:\n%s", n, r.stdout)
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("demo left %v behind in TMPDIR (%v)", left, err)
	}
	return demoEscapes(t, r.stdout, "naive os.WriteFile")
}

// TestDemo runs the demo and checks that racefree never escaped. The naive
// victim is the positive control: the attack must be seen to win against
// it, or racefree's zero proves nothing. As in fstests, a control never
// caught fails the full run, which is the proof, and is a skip (never a
// pass) under -short and the race detector, whose budgets are reduced.
func TestDemo(t *testing.T) {
	if runtime.GOOS != "linux" {
		r := racefree(t, t.TempDir(), nil, "demo", "--seconds", "1")
		r.expect(t, exitFailed, nil, []string{"RENAME_EXCHANGE"})
		return
	}
	if runDemoOnce(t, "1") > 0 {
		return
	}
	if !testing.Short() && runDemoOnce(t, "2") > 0 {
		return
	}
	const why = "the symlink-exchange attack never won against the naive victim on this machine"
	if !testing.Short() && !raceEnabled {
		t.Fatalf("%s: the demo proved nothing", why)
	}
	t.Skipf("inconclusive: %s (-short or -race: reduced budget)", why)
}

func TestDemoUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--seconds", "0"},
		{"--seconds", "61"},
		{"--seconds", "x"},
		{"extra"},
		{"--seconds", "1", "extra"},
	} {
		r := racefree(t, t.TempDir(), nil, append([]string{"demo"}, args...)...)
		r.expect(t, exitUsage, nil, []string{"usage: racefree demo [--seconds N]"})
	}
}
