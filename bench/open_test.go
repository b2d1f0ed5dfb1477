//go:build linux

// Package bench measures racefree against os.Root, filepath-securejoin's
// pathrs-lite, the raw openat2 system call and naive path-based calls, side
// by side in one run. See run.sh and RESULTS.md.
package bench

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/racefree/racefree/bench/internal/tree"
	"github.com/racefree/racefree/capability"
)

var env *tree.Env

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "racefree-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(root)
		if err := tree.Build(root); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if env, err = tree.Open(root); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer env.Close()
		// Recorded in the output so that a result file says which
		// resolver racefree used.
		fmt.Printf("racefree-resolver: %s\n", resolver())
		return m.Run()
	}()
	os.Exit(code)
}

func resolver() string {
	if capability.Has(capability.Openat2) && capability.Has(capability.OPath) {
		return "openat2"
	}
	return "walk"
}

// TestImpls checks that every implementation really opens and stats the
// file at every depth, so the benchmarks cannot time an error path.
func TestImpls(t *testing.T) {
	for _, depth := range tree.Depths {
		name := tree.Name(depth)
		for _, impl := range tree.OpenImpls {
			if err := impl.Op(env, name); err != nil {
				t.Errorf("open %s depth=%d: %v", impl.Name, depth, err)
			}
		}
		for _, impl := range tree.StatImpls {
			if err := impl.Op(env, name); err != nil {
				t.Errorf("stat %s depth=%d: %v", impl.Name, depth, err)
			}
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, depth := range tree.Depths {
		name := tree.Name(depth)
		for _, impl := range tree.OpenImpls {
			b.Run(fmt.Sprintf("depth=%d/impl=%s", depth, impl.Name), func(b *testing.B) {
				run(b, impl.Op, name)
			})
		}
	}
}

func BenchmarkStat(b *testing.B) {
	for _, depth := range tree.Depths {
		name := tree.Name(depth)
		for _, impl := range tree.StatImpls {
			b.Run(fmt.Sprintf("depth=%d/impl=%s", depth, impl.Name), func(b *testing.B) {
				run(b, impl.Op, name)
			})
		}
	}
}

// run times op on name. Besides ns/op (wall time) it reports cpu-ns/op,
// the user+system CPU time of the whole process per operation: on a
// machine shared with other work, waiting for a CPU inflates wall time but
// not CPU time, so cpu-ns/op compares implementations more reliably there.
func run(b *testing.B, op tree.Op, name string) {
	if err := op(env, name); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	n := 0
	var start time.Duration
	for b.Loop() {
		if n == 0 {
			start = cpuTime()
		}
		if err := op(env, name); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n > 1 {
		b.ReportMetric(float64(cpuTime()-start)/float64(n), "cpu-ns/op")
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
