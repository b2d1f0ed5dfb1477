//go:build linux

// Package cases holds every operation the benchmarks measure, every
// implementation of each (racefree, what users would use instead, and the
// raw system calls as the floor), and the fixtures they run on. The Go
// benchmarks in bench/ and the syscall counter bench/cmd/syscount both run
// these functions, so times and syscall counts are of the same code.
package cases

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Op is one measured operation with its implementations.
type Op struct {
	Name   string  // benchmark name: "Open" is BenchmarkOpen
	Title  string  // what one operation does, for RESULTS.md
	Axis   string  // what Params vary ("depth", "files", "size"); "" for none
	Params []Param // at least one; {"", 0} when Axis is ""
	Impls  []Impl  // racefree first
	// Walk: racefree's cost depends on its resolver, so the operation is
	// also measured with RACEFREE_DISABLE=openat2.
	Walk bool
	// Wall: the operation waits for the disk (fsync, syncfs), so it is
	// judged on wall time; CPU time leaves that wait out.
	Wall bool
	// Counted is how many operations one syscall-counter run performs.
	Counted int
	// Extra are metrics the runners report besides time and allocations,
	// unit -> meaning.
	Extra map[string]string
}

// Param is one value of an operation's parameter.
type Param struct {
	Label string // as in the benchmark name: "8", "4KiB"
	Value int
}

// Impl is one implementation of an operation.
type Impl struct {
	Name  string // as in the benchmark name: "osroot"
	Title string // for RESULTS.md: "os.Root"
	Floor bool   // the bare system calls: a lower bound, not an alternative
	// Start prepares a run in a fresh directory under root (see Fixtures)
	// with the parameter's value.
	Start func(root string, param int) (*Runner, error)
}

// Runner performs one implementation's operations, numbered from 0.
type Runner struct {
	// Prepare, if set, readies operation i (creates what it removes, ...).
	// It is not measured, and it does the same whether or not Op runs.
	Prepare func(i int) error
	// Op performs operation i.
	Op func(i int) error
	// Check reports whether operation i had its effect (tests only).
	Check func(i int) error
	// Reset, if set, drops what earlier operations left behind (not
	// measured; the syscall counter never calls it).
	Reset func() error
	// Batch is how many operations are prepared at once (0: 1000).
	Batch int
	// Metrics, if set, returns the extra metrics per operation after ops
	// operations (unit -> value).
	Metrics func(ops int) (map[string]float64, error)
	// Close releases the runner and removes its directory.
	Close func()
}

// Case is one implementation of one operation at one parameter.
type Case struct {
	Op    *Op
	Param Param
	Impl  Impl
}

// Sub is the case's sub-benchmark name: "depth=8/impl=racefree".
func (c Case) Sub() string {
	if c.Op.Axis == "" {
		return "impl=" + c.Impl.Name
	}
	return c.Op.Axis + "=" + c.Param.Label + "/impl=" + c.Impl.Name
}

// Name is the case's full benchmark name without the Benchmark prefix:
// "Open/depth=8/impl=racefree".
func (c Case) Name() string { return c.Op.Name + "/" + c.Sub() }

// Start starts the case's runner under root.
func (c Case) Start(root string) (*Runner, error) {
	r, err := c.Impl.Start(root, c.Param.Value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return r, nil
}

// Ops are the measured operations, in the order of RESULTS.md.
var Ops = []*Op{openOp, statOp, mkdirAllOp, removeAllOp, removeIfSameOp, renameIfSameOp, replaceSymlinkOp, writeFileOp, installOp, walkDirOp, chownTreeOp, chownTreeOwnedOp, copyTreeOp, extractOp}

// Cases are every operation's cases: parameter-major, then implementation.
func (o *Op) Cases() []Case {
	var cs []Case
	for _, p := range o.Params {
		for _, im := range o.Impls {
			cs = append(cs, Case{Op: o, Param: p, Impl: im})
		}
	}
	return cs
}

// All is every case of every operation.
func All() []Case {
	var cs []Case
	for _, o := range Ops {
		cs = append(cs, o.Cases()...)
	}
	return cs
}

// Find is the case named name (see Case.Name).
func Find(name string) (Case, bool) {
	for _, c := range All() {
		if c.Name() == name {
			return c, true
		}
	}
	return Case{}, false
}

// ints are parameters shown as their value.
func ints(vs ...int) []Param {
	ps := make([]Param, len(vs))
	for i, v := range vs {
		ps[i] = Param{strconv.Itoa(v), v}
	}
	return ps
}

// none is the parameter of an operation that has none.
var none = []Param{{}}

// workDir is a fresh directory for one runner, in root/work.
func workDir(root, prefix string) (string, error) {
	if err := os.MkdirAll(filepath.Join(root, "work"), 0o755); err != nil {
		return "", err
	}
	return os.MkdirTemp(filepath.Join(root, "work"), prefix+"-")
}

// Clean removes every runner's directory under root, keeping the fixtures.
func Clean(root string) error { return os.RemoveAll(filepath.Join(root, "work")) }

// names holds the names operations use, made by Prepare so that Op does
// not format them (which would add allocations to every implementation).
type names map[int]string

func (n names) reset() {
	for k := range n {
		delete(n, k)
	}
}

// Fixtures builds in root what the cases share, so that no measured run
// builds it: the chain Open and Stat walk and Install's source trees.
func Fixtures(root string) error {
	if _, err := chain(root); err != nil {
		return err
	}
	for _, n := range TreeSizes {
		if _, err := Source(root, n); err != nil {
			return err
		}
	}
	return nil
}
