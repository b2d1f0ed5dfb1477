//go:build linux

package main

import (
	"fmt"
	"math"
	"strings"

	"github.com/racefree/racefree/bench/internal/cases"
)

// A bound is a target of the form "racefree's time is at most Bound times
// the alternative's", judged on the run's filesystem and on the disk-backed
// one.
type bound struct {
	op    string
	param string // "" for every parameter of op
	alt   string
	bound float64
	also  string // another alternative, reported beside
	issue string // what asked for it
}

// bounds are the targets of the kept private directories (issue 11,
// DESIGN.md S3), of the tree operations (issue 13) and of extract (issue 14).
var bounds = []bound{
	{"ReplaceSymlink", "", "tmp+rename", 1.3, "", "11"},
	{"RemoveIfSame", "", "naive", 2, "", "11"},
	{"RenameIfSame", "", "naive", 2, "", "11"},
	{"WriteFile", "4KiB", "by-hand", 1.1, "renameio", "11"},
	{"WalkDir", "", "filepath", 1.0, "osroot-fs", "13"},
	{"ChownTree", "", "chown-R", 1.0, "kubelet", "13"},
	{"ChownTreeOwned", "", "chown-R", 1.0, "kubelet", "13"},
	{"CopyTree", "", "cp-a", 1.1, "", "13"},
	{"Extract", "", "gnutar", 1.1, "naive", "14"},
}

// boundTargets writes a row per bound, parameter and filesystem. On the
// run's filesystem the operation's own measure is compared (CPU time, wall
// time for those that wait for the disk); on disk, wall time, which is
// where a journal's waits show. A ratio above the bound whose p-value says
// it may be noise is reported as such, and counted as missed all the same.
func boundTargets(row func(target, at, measured string, met bool, verdict string), r *run) {
	for _, prof := range []string{openat2, disk} {
		if len(r.bench[prof]) == 0 {
			continue
		}
		at := "RAM-backed image"
		if prof == disk {
			at = "disk-backed"
		}
		for _, t := range bounds {
			op := opByName(t.op)
			params := op.Params
			if t.param != "" {
				params = []cases.Param{paramOf(op, t.param)}
			}
			if len(params) == 0 {
				params = []cases.Param{{}}
			}
			for _, param := range params {
				rc, ok1 := find(op, param, "racefree")
				ac, ok2 := find(op, param, t.alt)
				if !ok1 || !ok2 {
					continue
				}
				u := unit(op)
				if prof == disk {
					u = "ns/op"
				}
				target := fmt.Sprintf("%s: racefree within %g× of %s (racefree ÷ it; issue %s)", t.op, t.bound, ac.Impl.Title, t.issue)
				where := at
				if p := paramText(rc); p != "" {
					where = p + ", " + at
				}
				rv, av := r.values(prof, rc, u), r.values(prof, ac, u)
				if len(rv) == 0 || len(av) == 0 {
					row(target, where, "not measured", false, "")
					continue
				}
				x := median(rv) / median(av)
				measured := fmt.Sprintf("%s %s, p=%.2f", ratio(median(rv), median(av)), unitShort(u), mannWhitney(rv, av))
				if t.also != "" {
					if oc, ok := find(op, param, t.also); ok {
						if ov := r.values(prof, oc, u); len(ov) > 0 {
							measured += fmt.Sprintf("; against %s %s", oc.Impl.Title, ratio(median(rv), median(ov)))
						}
					}
				}
				if n := entries(rc); n > 0 && prof == openat2 {
					rs, as := r.syscalls(openat2, rc), r.syscalls(openat2, ac)
					if rs.ok && as.ok {
						measured += fmt.Sprintf("; syscalls per entry %.2f against %.2f", rs.perOp/float64(n), as.perOp/float64(n))
					}
				}
				verdict := ""
				if !math.IsNaN(x) && x > t.bound && mannWhitney(rv, av) > 0.05 {
					verdict = "**within noise**"
				}
				row(target, where, measured, !math.IsNaN(x) && x <= t.bound, verdict)
			}
		}
	}
}

// entries is how many directory entries one operation of c handles, for a
// count of syscalls per entry; 0 when that is not a meaningful divisor.
func entries(c cases.Case) int {
	switch {
	case c.Op.Axis == "entries":
		return c.Param.Value
	case c.Op.Name == "Extract" && strings.HasPrefix(c.Param.Label, "10000-files"):
		return 10000
	}
	return 0
}

// unitShort names a benchmark unit in a measured cell.
func unitShort(u string) string {
	if u == "cpu-ns/op" {
		return "CPU"
	}
	return "wall"
}
