//go:build linux

// Package bench measures racefree against what users would use instead
// (os.Root, filepath-securejoin's pathrs-lite, renameio, naive path calls)
// and the raw system calls as the floor, side by side in one run. The
// operations and their implementations are in internal/cases; run.sh runs
// the benchmarks, counts syscalls and writes RESULTS.md.
package bench

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/racefree/racefree/bench/internal/cases"
	"github.com/racefree/racefree/capability"
)

// root holds the fixtures and every runner's directory: in $TMPDIR, so
// TMPDIR chooses the filesystem measured.
var root string

func TestMain(m *testing.M) {
	var err error
	if root, err = os.MkdirTemp("", "racefree-bench-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Recorded in the output, so that a result file says which resolver
	// racefree used.
	fmt.Printf("racefree-resolver: %s\n", resolver())
	code := m.Run()
	os.RemoveAll(root)
	os.Exit(code)
}

func resolver() string {
	if capability.Has(capability.Openat2) && capability.Has(capability.OPath) {
		return "openat2"
	}
	return "walk"
}

// TestCases runs a few operations of every implementation at the smallest
// parameter and checks their effect, so that no benchmark times an error
// path or an operation that does nothing.
func TestCases(t *testing.T) {
	for _, op := range cases.Ops {
		for _, c := range op.Cases() {
			if c.Param != op.Params[0] {
				continue
			}
			t.Run(c.Name(), func(t *testing.T) {
				r, err := c.Start(root)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				for i := range 3 {
					if r.Prepare != nil {
						if err := r.Prepare(i); err != nil {
							t.Fatalf("prepare %d: %v", i, err)
						}
					}
					if err := r.Op(i); err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
					if err := r.Check(i); err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
				}
				if r.Metrics != nil {
					if _, err := r.Metrics(3); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkOpen(b *testing.B)           { benchOp(b, "Open") }
func BenchmarkStat(b *testing.B)           { benchOp(b, "Stat") }
func BenchmarkMkdirAll(b *testing.B)       { benchOp(b, "MkdirAll") }
func BenchmarkRemoveAll(b *testing.B)      { benchOp(b, "RemoveAll") }
func BenchmarkRemoveIfSame(b *testing.B)   { benchOp(b, "RemoveIfSame") }
func BenchmarkRenameIfSame(b *testing.B)   { benchOp(b, "RenameIfSame") }
func BenchmarkReplaceSymlink(b *testing.B) { benchOp(b, "ReplaceSymlink") }
func BenchmarkWriteFile(b *testing.B)      { benchOp(b, "WriteFile") }
func BenchmarkInstall(b *testing.B)        { benchOp(b, "Install") }
func BenchmarkWalkDir(b *testing.B)        { benchOp(b, "WalkDir") }
func BenchmarkChownTree(b *testing.B)      { benchOp(b, "ChownTree") }
func BenchmarkChownTreeOwned(b *testing.B) { benchOp(b, "ChownTreeOwned") }
func BenchmarkCopyTree(b *testing.B)       { benchOp(b, "CopyTree") }
func BenchmarkExtract(b *testing.B)        { benchOp(b, "Extract") }

func benchOp(b *testing.B, name string) {
	for _, op := range cases.Ops {
		if op.Name != name {
			continue
		}
		// run.sh rotates the implementations by its round number: over
		// the rounds each runs at several positions, so that whatever a
		// position costs (the state the previous benchmark left the
		// machine in) is not always charged to the same implementation.
		round, _ := strconv.Atoi(os.Getenv("RACEFREE_BENCH_ROUND"))
		n := len(op.Impls)
		for _, param := range op.Params {
			for i := range n {
				c := cases.Case{Op: op, Param: param, Impl: op.Impls[(i+round)%n]}
				b.Run(c.Sub(), func(b *testing.B) { measure(b, c) })
			}
		}
		return
	}
	b.Fatalf("no operation %s", name)
}

// measure times c's operations. Set-up and preparation (Prepare, Reset)
// are not timed; preparation runs a batch at a time. Besides ns/op (wall time) it reports
// cpu-ns/op, the user+system CPU time per operation of the process and of
// the children it waited for, over the timed stretches only: on a machine
// shared with other work, waiting for a CPU inflates wall time but not CPU
// time, so CPU time compares implementations more reliably there.
func measure(b *testing.B, c cases.Case) {
	r, err := c.Start(root)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	// Flush what the set-up wrote (Install's source and first copy, ...):
	// an implementation that syncs (racefree's Install, copy+syncfs+rename)
	// would otherwise pay for writing out someone else's data.
	if err := cases.Syncfs(root); err != nil {
		b.Fatal(err)
	}
	batch := r.Batch
	if batch == 0 {
		batch = 1000
	}
	b.ReportAllocs()
	var cpu, start time.Duration
	i, prepared := 0, 0
	for b.Loop() {
		if r.Prepare != nil && i == prepared {
			b.StopTimer()
			if i > 0 {
				cpu += cpuTime() - start
				if r.Reset != nil {
					if err := r.Reset(); err != nil {
						b.Fatal(err)
					}
				}
			}
			for ; prepared < i+batch; prepared++ {
				if err := r.Prepare(prepared); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			start = cpuTime()
		} else if i == 0 {
			start = cpuTime()
		}
		if err := r.Op(i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	cpu += cpuTime() - start
	b.ReportMetric(float64(cpu)/float64(i), "cpu-ns/op")
	if r.Metrics != nil {
		m, err := r.Metrics(i)
		if err != nil {
			b.Fatal(err)
		}
		for unit, v := range m {
			b.ReportMetric(v, unit)
		}
	}
}

// cpuTime is the user+system CPU time so far of the process and of the
// children it has waited for (cp in Install).
func cpuTime() time.Duration {
	var t time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err == nil {
			t += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return t
}
