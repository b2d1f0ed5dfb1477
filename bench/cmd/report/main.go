//go:build linux

// Command report turns the raw output of bench/run.sh into RESULTS.md, the
// plots, and the measured block of README.md: medians of the samples,
// ratios between implementations measured in the same run, and syscalls
// per operation from the strace -c files of the syscall counter.
//
//	report -dir bench/results -results bench/RESULTS.md -plots bench/plots -readme README.md
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/racefree/racefree/bench/internal/cases"
)

func main() {
	dir := flag.String("dir", "bench/results", "directory run.sh wrote")
	results := flag.String("results", "bench/RESULTS.md", "results page to write")
	plots := flag.String("plots", "bench/plots", "directory for the PNG plots")
	readme := flag.String("readme", "README.md", "README whose measured block to rewrite")
	diskList := flag.Bool("disk-ops", false, "print the operations run.sh measures on the disk-backed filesystem too, as a go test -bench alternation, and exit")
	flag.Parse()
	if *diskList {
		fmt.Println(strings.Join(diskOps, "|"))
		return
	}
	if err := report(*dir, *results, *plots, *readme); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func report(dir, results, plotDir, readme string) error {
	r, err := load(dir)
	if err != nil {
		return err
	}
	meta, err := os.ReadFile(filepath.Join(dir, "meta.txt"))
	if err != nil {
		return err
	}
	plots, err := writePlots(r, plotDir)
	if err != nil {
		return err
	}
	rel := func(base string) func(string) string {
		return func(p string) string {
			s, err := filepath.Rel(base, p)
			if err != nil {
				return p
			}
			return filepath.ToSlash(s)
		}
	}

	var page bytes.Buffer
	writeResults(&page, r, string(meta), plots, rel(filepath.Dir(results)))
	if err := os.WriteFile(results, page.Bytes(), 0o644); err != nil {
		return err
	}

	var block bytes.Buffer
	writeReadmeBlock(&block, r, string(meta), plots, rel(filepath.Dir(readme)), rel(filepath.Dir(readme))(results))
	return replaceBlock(readme, block.Bytes())
}

// Markers of the README block run.sh rewrites.
const (
	blockBegin = "<!-- bench/run.sh writes from here to the end marker; do not edit by hand -->\n"
	blockEnd   = "<!-- end of bench/run.sh's block -->\n"
)

// replaceBlock puts block between the markers of the file at path.
func replaceBlock(path string, block []byte) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	i := bytes.Index(data, []byte(blockBegin))
	j := bytes.Index(data, []byte(blockEnd))
	if i < 0 || j < i {
		return fmt.Errorf("%s: no block between %q and %q", path, strings.TrimSpace(blockBegin), strings.TrimSpace(blockEnd))
	}
	var out bytes.Buffer
	out.Write(data[:i+len(blockBegin)])
	out.Write(block)
	out.Write(data[j:])
	return os.WriteFile(path, out.Bytes(), 0o644)
}

// summaryParams are the parameters the summaries show (all others are in
// the operation's own table).
var summaryParams = map[string][]string{
	"Open":      {"8", "32"},
	"Stat":      {"32"},
	"RemoveAll": {"10000"},
	"WriteFile": {"4KiB", "1MiB"},
	"Install":   {"1000", "10000"},
}

func inSummary(c cases.Case) bool {
	ps, ok := summaryParams[c.Op.Name]
	if !ok {
		return true
	}
	for _, p := range ps {
		if p == c.Param.Label {
			return true
		}
	}
	return false
}

// unit is the time an operation is compared on: wall time for the ones
// that wait for the disk, CPU time for the others (see the page's notes).
func unit(op *cases.Op) string {
	if op.Wall {
		return "ns/op"
	}
	return "cpu-ns/op"
}

func unitName(op *cases.Op) string {
	if op.Wall {
		return "wall"
	}
	return "CPU"
}

// paramText is a case's parameter for humans: "depth 8", "10000 files".
func paramText(c cases.Case) string {
	switch c.Op.Axis {
	case "":
		return ""
	case "files":
		return c.Param.Label + " files"
	default:
		return c.Op.Axis + " " + c.Param.Label
	}
}

// find is the case of op at param p with implementation impl.
func find(op *cases.Op, p cases.Param, impl string) (cases.Case, bool) {
	for _, im := range op.Impls {
		if im.Name == impl {
			return cases.Case{Op: op, Param: p, Impl: im}, true
		}
	}
	return cases.Case{}, false
}

func opByName(name string) *cases.Op {
	for _, op := range cases.Ops {
		if op.Name == name {
			return op
		}
	}
	panic("no operation " + name)
}

func paramOf(op *cases.Op, label string) cases.Param {
	for _, p := range op.Params {
		if p.Label == label {
			return p
		}
	}
	panic("no parameter " + label + " for " + op.Name)
}

// summaryTable writes one row per operation and summary parameter: racefree's
// time and syscalls, and each other implementation's time as a multiple of
// racefree's, with its syscalls.
func summaryTable(w *bytes.Buffer, r *run) { profileTable(w, r, openat2) }

// diskTable is summaryTable of the operations measured on the disk-backed
// filesystem, compared on wall time, which is where a journal's waits
// show; nothing when run.sh had none.
func diskTable(w *bytes.Buffer, r *run, meta string) {
	if len(r.bench[disk]) == 0 {
		return
	}
	fmt.Fprintf(w, "The operations that wait for the filesystem, again on a disk-backed one (%s), wall time:\n\n", metaField(meta, "disk"))
	profileTable(w, r, disk)
}

// profileTable is the summary of profile p: on disk, the operations
// measured there, by wall time.
func profileTable(w *bytes.Buffer, r *run, prof string) {
	fmt.Fprintf(w, "| operation | racefree | syscalls | each alternative: its time ÷ racefree's (its syscalls) |\n|---|---:|---:|---|\n")
	for _, op := range cases.Ops {
		if prof == disk && !slices.Contains(diskOps, op.Name) {
			continue
		}
		u := unit(op)
		wall := op.Wall
		if prof == disk {
			u, wall = "ns/op", false
		}
		for _, p := range op.Params {
			rc, _ := find(op, p, "racefree")
			if !inSummary(rc) {
				continue
			}
			rt, ok := r.median(prof, rc, u)
			if !ok {
				continue
			}
			name := op.Name
			if t := paramText(rc); t != "" {
				name += ", " + t
			}
			var alts []string
			for _, im := range op.Impls[1:] {
				c := cases.Case{Op: op, Param: p, Impl: im}
				t, ok := r.median(prof, c, u)
				if !ok {
					continue
				}
				x := ratio(t, rt)
				if wall {
					// Wall time under load is noisy: CPU time beside it.
					tc, _ := r.median(prof, c, "cpu-ns/op")
					rcpu, _ := r.median(prof, rc, "cpu-ns/op")
					x += " wall, " + ratio(tc, rcpu) + " CPU"
				}
				alts = append(alts, fmt.Sprintf("%s %s (%s)", im.Title, x, r.syscalls(openat2, c)))
			}
			own := duration(rt) + " " + unitName(op)
			if prof == disk {
				own = duration(rt) + " wall"
			}
			if wall {
				rcpu, _ := r.median(prof, rc, "cpu-ns/op")
				own += ", " + duration(rcpu) + " CPU"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, own, r.syscalls(openat2, rc), strings.Join(alts, " · "))
		}
	}
	w.WriteString("\n")
}

func writeReadmeBlock(w *bytes.Buffer, r *run, meta string, plots []plotFile, rel func(string) string, results string) {
	cpu := metaField(meta, "cpu")
	if i := strings.LastIndex(cpu, " x "); i >= 0 {
		cpu = cpu[i+len(" x "):]
	}
	fmt.Fprintf(w, "\nMeasured by `bench/run.sh` in one run (%s, %s, %s CPUs, %s; load average %s).\n",
		metaField(meta, "date"), metaField(meta, "kernel"), cpu, metaField(meta, "filesystem"), loadText(metaField(meta, "load avg")))
	fmt.Fprintf(w, "Times are medians of CPU time per operation (wall time for WriteFile, Install and Extract, which wait for\n")
	fmt.Fprintf(w, "the disk); `2.0×` means the alternative takes twice racefree's time. Every table, the syscall\n")
	fmt.Fprintf(w, "breakdowns and the plots are in [%s](%s).\n\n", results, results)
	var discard bytes.Buffer
	n, missed := targets(&discard, r)
	if len(missed) == 0 {
		fmt.Fprintf(w, "All %d targets of the benchmark page are met.\n\n", n)
	} else {
		fmt.Fprintf(w, "%d of the benchmark page's %d targets are met. Missed, with the causes in [%s](%s):\n\n", n-len(missed), n, analysisOf(results), analysisOf(results))
		for _, m := range missed {
			fmt.Fprintf(w, "- %s\n", m)
		}
		fmt.Fprintln(w)
	}
	summaryTable(w, r)
	diskTable(w, r, meta)
	links := make([]string, len(plots))
	for i, p := range plots {
		links[i] = fmt.Sprintf("[%s](%s)", p.title, rel(p.path))
	}
	fmt.Fprintf(w, "Plots: %s.\n\n", strings.Join(links, " · "))
}

// analysisOf is the hand-written analysis beside the results page.
func analysisOf(results string) string { return path.Join(path.Dir(results), "ANALYSIS.md") }

// metaField is the value of a "name: value" line of meta.txt.
func metaField(meta, name string) string {
	for _, line := range strings.Split(meta, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// loadText is the 1-minute load averages at the start and the end, from
// the line run.sh writes: "E1 E5 E15 at end, S1 S5 S15 at start; ...".
func loadText(line string) string {
	_, start, ok := strings.Cut(line, "at end, ")
	end, begin := strings.Fields(line), strings.Fields(start)
	if !ok || len(end) == 0 || len(begin) == 0 {
		return line
	}
	return begin[0] + " at the start, " + end[0] + " at the end"
}
