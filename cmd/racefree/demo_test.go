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

func TestDemo(t *testing.T) {
	if runtime.GOOS != "linux" {
		r := racefree(t, t.TempDir(), nil, "demo", "--seconds", "1")
		r.expect(t, exitFailed, nil, []string{"RENAME_EXCHANGE"})
		return
	}
	naive := runDemoOnce(t, "1")
	if testing.Short() || naive > 0 {
		return
	}
	// The positive control: the attack must be seen to work against the
	// naive victim, or the zero for racefree proves nothing.
	if runDemoOnce(t, "2") == 0 {
		t.Skip("the symlink-exchange attack never won against the naive victim on this machine; inconclusive")
	}
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
