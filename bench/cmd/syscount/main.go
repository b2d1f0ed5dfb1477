//go:build linux

// Command syscount performs one measured operation N times, to be run under
// `strace -f -c`: the syscalls of a run with -n 0 (everything but the
// measured operations) subtracted from those of a run with -n N, divided by
// N, are the syscalls one operation costs.
//
//	syscount -build DIR                        create the tree in DIR
//	syscount -root DIR -op open -impl racefree -depth 8 -n 1000
//
// Setup (opening every implementation's handle, racefree's capability
// probes) and one warm-up operation happen in both runs, so lazy
// initialisation is not charged to the operation. GOGC is turned off so
// that the garbage collector adds no syscalls to one run and not the other.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/racefree/racefree/bench/internal/tree"
)

func main() {
	build := flag.String("build", "", "create the benchmark tree in this directory and exit")
	root := flag.String("root", "", "the tree's root")
	op := flag.String("op", "open", "open or stat")
	impl := flag.String("impl", "racefree", "implementation")
	depth := flag.Int("depth", 1, "directories above the file")
	n := flag.Int("n", 1000, "operations to perform after the warm-up")
	flag.Parse()

	if *build != "" {
		if err := tree.Build(*build); err != nil {
			fail(err)
		}
		return
	}
	debug.SetGCPercent(-1)

	var fn tree.Op
	impls := tree.OpenImpls
	if *op == "stat" {
		impls = tree.StatImpls
	} else if *op != "open" {
		fail(fmt.Errorf("unknown -op %q", *op))
	}
	for _, i := range impls {
		if i.Name == *impl {
			fn = i.Op
		}
	}
	if fn == nil {
		fail(fmt.Errorf("unknown -impl %q for -op %s", *impl, *op))
	}

	e, err := tree.Open(*root)
	if err != nil {
		fail(err)
	}
	name := tree.Name(*depth)
	if err := fn(e, name); err != nil { // warm-up
		fail(err)
	}
	for range *n {
		if err := fn(e, name); err != nil {
			fail(err)
		}
	}
	e.Close()
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "syscount:", err)
	os.Exit(1)
}
