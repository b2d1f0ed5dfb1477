//go:build linux

package main

import (
	"fmt"
	"math"

	"github.com/racefree/racefree/bench/internal/cases"
)

// stageTargets judges the costs of racefree's kept private directories
// (issue 11, DESIGN.md S3), on the filesystem of the run and on the
// disk-backed one: racefree's time over the alternative's must stay within
// the bound. On the run's filesystem the operation's own measure is
// compared (CPU time, wall time for WriteFile); on disk, wall time, which
// is where a journal's waits show.
func stageTargets(row func(target, at, measured string, met bool, verdict string), r *run) {
	for _, prof := range []string{openat2, disk} {
		if len(r.bench[prof]) == 0 {
			continue
		}
		at := "RAM-backed image"
		if prof == disk {
			at = "disk-backed"
		}
		for _, t := range []struct {
			op, param, alt string
			bound          float64
			also           string // another alternative, reported beside
		}{
			{"ReplaceSymlink", "", "tmp+rename", 1.3, ""},
			{"RemoveIfSame", "", "naive", 2, ""},
			{"RenameIfSame", "", "naive", 2, ""},
			{"WriteFile", "4KiB", "by-hand", 1.1, "renameio"},
		} {
			op := opByName(t.op)
			param := cases.Param{}
			if t.param != "" {
				param = paramOf(op, t.param)
			}
			rc, ok1 := find(op, param, "racefree")
			ac, ok2 := find(op, param, t.alt)
			if !ok1 || !ok2 {
				continue
			}
			u := unit(op)
			if prof == disk {
				u = "ns/op"
			}
			rv, av := r.values(prof, rc, u), r.values(prof, ac, u)
			if len(rv) == 0 || len(av) == 0 {
				row(fmt.Sprintf("%s: racefree within %g× of %s", t.op, t.bound, ac.Impl.Title), at, "not measured", false, "")
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
			what := t.op
			if t.param != "" {
				what += " " + t.param
			}
			row(fmt.Sprintf("%s: racefree within %g× of %s (racefree ÷ it)", what, t.bound, ac.Impl.Title), at, measured, !math.IsNaN(x) && x <= t.bound, "")
		}
	}
}

// unitShort names a benchmark unit in a measured cell.
func unitShort(u string) string {
	if u == "cpu-ns/op" {
		return "CPU"
	}
	return "wall"
}
