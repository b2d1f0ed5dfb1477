//go:build linux

// Command syscount performs one benchmark case's operations for strace to
// count. It starts the case (opening every handle, racefree's capability
// probes), warms up with one operation, prepares the N measured ones (for
// RemoveAll, builds the trees), then writes "ready" to standard output and
// waits for SIGUSR1. run.sh attaches `strace -f -c -p` in that pause, so
// only what follows is counted: the N operations, and the
// process's exit. The same sequence with -skip, which performs none of
// them, counts the exit alone; the difference divided by N is what one
// operation costs. The garbage collector is off, so that it adds no
// syscalls to one run and not the other.
//
//	syscount -build DIR                  build the shared fixtures in DIR
//	syscount -clean DIR                  remove what runs left in DIR, keeping the fixtures
//	syscount -list                       print every case: name, N, walk (1: measured under the walk too)
//	syscount -root DIR -case Open/depth=8/impl=racefree -n 200 [-skip]
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/racefree/racefree/bench/internal/cases"
)

func main() {
	build := flag.String("build", "", "build the shared fixtures (chain, Install sources) in this directory and exit")
	clean := flag.String("clean", "", "remove every run's leftovers in this directory, keeping the fixtures, and exit")
	list := flag.Bool("list", false, "list the cases and exit")
	root := flag.String("root", "", "the fixtures' directory")
	name := flag.String("case", "", "the case, as named in the benchmarks: Op/param=value/impl=name")
	n := flag.Int("n", 100, "operations to perform after the warm-up")
	skip := flag.Bool("skip", false, "prepare the N operations but do not perform them")
	flag.Parse()

	switch {
	case *build != "":
		if err := cases.Fixtures(*build); err != nil {
			fail(err)
		}
		return
	case *clean != "":
		if err := cases.Clean(*clean); err != nil {
			fail(err)
		}
		return
	case *list:
		for _, op := range cases.Ops {
			walk := 0
			if op.Walk {
				walk = 1
			}
			for _, c := range op.Cases() {
				fmt.Println(c.Name(), op.Counted, walk)
			}
		}
		return
	}
	debug.SetGCPercent(-1)
	c, ok := cases.Find(*name)
	if !ok {
		fail(fmt.Errorf("no case %q (see -list)", *name))
	}
	// The warm-up is operation 0 of the runner measured, except where one
	// operation is counted (RemoveAll and Install, whose single operation
	// makes thousands of syscalls): there it is operation 0 of the same
	// implementation at the smallest parameter, which initialises the same
	// things at a fraction of the cost.
	warm := c
	if c.Op.Counted == 1 {
		warm.Param = c.Op.Params[0]
	}
	w, err := warm.Start(*root)
	if err != nil {
		fail(err)
	}
	if err := do(w, 0); err != nil {
		fail(err)
	}
	r := w
	if warm.Param != c.Param {
		if r, err = c.Start(*root); err != nil {
			fail(err)
		}
	}
	if r.Prepare != nil {
		for i := 1; i <= *n; i++ {
			if err := r.Prepare(i); err != nil {
				fail(err)
			}
		}
	}
	// Wait for SIGUSR1 rather than reading a line: the Go runtime receives
	// a signal with calls the count leaves out (futex, rt_sigreturn), while
	// a read would be counted, or not, depending on when strace attached.
	proceed := make(chan os.Signal, 1)
	signal.Notify(proceed, syscall.SIGUSR1)
	fmt.Println("ready")
	<-proceed
	if !*skip {
		for i := 1; i <= *n; i++ {
			if err := r.Op(i); err != nil {
				fail(err)
			}
		}
	}
	// No Close: it would undo the operations, which the run with -skip has
	// nothing to undo. run.sh runs -clean.
}

// do prepares and performs operation i.
func do(r *cases.Runner, i int) error {
	if r.Prepare != nil {
		if err := r.Prepare(i); err != nil {
			return err
		}
	}
	return r.Op(i)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "syscount:", err)
	os.Exit(1)
}
