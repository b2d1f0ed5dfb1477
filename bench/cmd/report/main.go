// Command report turns the raw output of bench/run.sh into RESULTS.md:
// ns/op, B/op, allocs/op (medians of the samples), ratios between the
// implementations measured in the same run, and syscalls per operation
// from the strace -c files of the syscall counter.
//
//	report -dir bench/results > bench/RESULTS.md
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Profiles: the name racefree's resolver is reported under, and the file
// of go test -bench output taken with it.
var profiles = []struct{ name, file, env string }{
	{"openat2", "bench-openat2.txt", "RACEFREE_DISABLE unset"},
	{"walk", "bench-walk.txt", "RACEFREE_DISABLE=openat2"},
}

var (
	depths     = []string{"1", "8", "32"}
	openImpls  = []string{"racefree", "osroot", "securejoin", "openat2", "naive"}
	statImpls  = []string{"racefree", "osroot", "openat2", "naive"}
	implTitles = map[string]string{
		"racefree":   "racefree",
		"osroot":     "os.Root",
		"securejoin": "securejoin pathrs-lite",
		"openat2":    "raw openat2 (floor)",
		"naive":      "naive path call",
	}
)

// runtimeSyscalls are made by the Go runtime (scheduler, sysmon, signals,
// memory, netpoller waits) in amounts that depend on time, not on the
// operation; they are left out of the per-operation count and shown apart.
var runtimeSyscalls = map[string]bool{
	"futex": true, "nanosleep": true, "sched_yield": true, "tgkill": true,
	"rt_sigreturn": true, "getpid": true, "gettid": true, "clone": true,
	"clone3": true, "mmap": true, "munmap": true, "madvise": true,
	"mprotect": true, "rt_sigprocmask": true, "rt_sigaction": true,
	"sigaltstack": true, "epoll_pwait": true, "epoll_wait": true,
	"sched_getaffinity": true, "getrandom": true,
}

// sample is one benchmark result line: unit -> value.
type sample map[string]float64

// key: op/depth/impl
type results map[string][]sample

var benchName = regexp.MustCompile(`^Benchmark(\w+)/depth=(\d+)/impl=([\w-]+?)(?:-\d+)?$`)

func parseBench(path string) (results, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := results{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 {
			continue
		}
		m := benchName.FindStringSubmatch(fields[0])
		if m == nil {
			continue
		}
		s := sample{}
		for i := 2; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err == nil {
				s[fields[i+1]] = v
			}
		}
		k := m[1] + "/" + m[2] + "/" + m[3]
		r[k] = append(r[k], s)
	}
	return r, sc.Err()
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// get is the median of unit over the samples of op/depth/impl.
func (r results) get(op, depth, impl, unit string) (float64, bool) {
	var xs []float64
	for _, s := range r[op+"/"+depth+"/"+impl] {
		if v, ok := s[unit]; ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

// spread is (max-min)/median of unit, in percent: how noisy a cell is.
func (r results) spread(op, depth, impl, unit string) float64 {
	var xs []float64
	for _, s := range r[op+"/"+depth+"/"+impl] {
		if v, ok := s[unit]; ok {
			xs = append(xs, v)
		}
	}
	if len(xs) == 0 {
		return 0
	}
	return 100 * (slices.Max(xs) - slices.Min(xs)) / median(xs)
}

// straceCounts parses strace -c output: syscall name -> calls.
func straceCounts(path string) (map[string]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || f[0] == "%" || strings.HasPrefix(f[0], "-") || f[len(f)-1] == "total" {
			continue
		}
		n, err := strconv.Atoi(f[3])
		if err != nil {
			continue
		}
		c[f[len(f)-1]] += n
	}
	return c, nil
}

type sysResult struct {
	perOp     float64 // operation syscalls per op
	runtime   float64 // runtime syscalls per op (excluded)
	breakdown map[string]float64
	ok        bool
}

func syscalls(dir, profile, op, impl, depth string, n int) sysResult {
	base := fmt.Sprintf("%s/strace/%s_%s_%s_%s", dir, profile, op, impl, depth)
	c0, err0 := straceCounts(base + "_0.txt")
	cn, errn := straceCounts(fmt.Sprintf("%s_%d.txt", base, n))
	if err0 != nil || errn != nil {
		return sysResult{}
	}
	r := sysResult{breakdown: map[string]float64{}, ok: true}
	for name := range merge(c0, cn) {
		d := float64(cn[name]-c0[name]) / float64(n)
		if runtimeSyscalls[name] {
			r.runtime += d
			continue
		}
		if cn[name] != c0[name] {
			r.breakdown[name] = d
		}
		r.perOp += d
	}
	return r
}

func merge(a, b map[string]int) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

func (r sysResult) String() string {
	if !r.ok {
		return "n/a"
	}
	return trim(r.perOp, 2)
}

func (r sysResult) detail() string {
	var names []string
	for k := range r.breakdown {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, fmt.Sprintf("%s %s", k, trim(r.breakdown[k], 2)))
	}
	return strings.Join(parts, ", ")
}

func trim(x float64, prec int) string {
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func main() {
	dir := flag.String("dir", "bench/results", "directory run.sh wrote")
	n := flag.Int("n", 1000, "operations per syscall-counter run")
	analysis := flag.String("analysis", "", "hand-written analysis to link at the top")
	flag.Parse()

	res := map[string]results{}
	for _, p := range profiles {
		r, err := parseBench(filepath.Join(*dir, p.file))
		if err != nil {
			fmt.Fprintln(os.Stderr, "report:", err)
			os.Exit(1)
		}
		res[p.name] = r
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	p := func(format string, a ...any) { fmt.Fprintf(w, format, a...) }

	meta, _ := os.ReadFile(filepath.Join(*dir, "meta.txt"))
	p("# racefree benchmarks\n\n")
	p("Generated by `bench/run.sh` (raw data in `bench/results/`). Do not edit by hand.\n")
	if *analysis != "" {
		p("Where each cost comes from, and what would remove the ones that miss a target: [%s](%s).\n", filepath.Base(*analysis), filepath.Base(*analysis))
	}
	p("\n")
	p("```\n%s```\n\n", meta)
	p("Depth N is the name `d1/d2/.../dN/f`: N directories, then a regular file (N+1 components).\n")
	p("Every number is the median of the samples of one run of the whole suite; ratios compare\n")
	p("implementations measured in the same run (same process, interleaved rounds). `spread` is\n")
	p("(max-min)/median of racefree's samples. Profile `openat2` is racefree with `RACEFREE_DISABLE`\n")
	p("unset (one openat2 per operation); `walk` is `RACEFREE_DISABLE=openat2` (per-component walk);\n")
	p("the other implementations do not read that variable and were measured again in the walk run.\n\n")
	p("Two times are reported. `ns/op` is wall time. `cpu-ns/op` is the process's user+system CPU time\n")
	p("per operation (getrusage): when other work shares the machine (see the load average above), waiting\n")
	p("for a CPU inflates wall time, and its spread, but not CPU time, so targets are judged on CPU time.\n")
	p("On an idle machine the two agree (one goroutine doing system calls).\n\n")
	p("securejoin's `OpenatInRoot` returns an O_PATH handle (it is not opened for reading: that would\n")
	p("take a `Reopen` more), so its Open column costs it less than the others' work.\n\n")

	for _, op := range []string{"Open", "Stat"} {
		impls := openImpls
		if op == "Stat" {
			impls = statImpls
		}
		what := "Open + Close of a regular file"
		if op == "Stat" {
			what = "Stat (raw floor: openat2(O_PATH) + fstat + close)"
		}
		p("## %s: %s\n\n", op, what)
		for _, prof := range profiles {
			for _, unit := range []string{"cpu-ns/op", "ns/op"} {
				timeTable(p, res[prof.name], op, prof.name, prof.env, unit, impls)
			}
		}
		p("### allocs/op and B/op\n\n")
		p("| depth | profile |")
		for _, im := range impls {
			p(" %s |", implTitles[im])
		}
		p("\n|---|---|")
		for range impls {
			p("---:|")
		}
		p("\n")
		for _, d := range depths {
			for _, prof := range profiles {
				r := res[prof.name]
				p("| %s | %s |", d, prof.name)
				for _, im := range impls {
					a, ok := r.get(op, d, im, "allocs/op")
					bb, _ := r.get(op, d, im, "B/op")
					if !ok {
						p(" n/a |")
						continue
					}
					p(" %s allocs, %s B |", trim(a, 0), trim(bb, 0))
				}
				p("\n")
			}
		}
		p("\n")

		lop := strings.ToLower(op)
		p("### syscalls/op (%s)\n\n", lop)
		p("From `strace -f -c` of `bench/cmd/syscount` doing %d operations, minus a run doing 0 (both do\n", *n)
		p("the same setup and one warm-up operation), divided by %d. Go-runtime syscalls (futex, nanosleep,\n", *n)
		p("signals, mmap, epoll_pwait, ...) are left out; they are listed in the `runtime` column.\n\n")
		p("| implementation | profile |")
		for _, d := range depths {
			p(" depth %s |", d)
		}
		p(" runtime (depth 32) | breakdown at depth 8 |\n|---|---|")
		for range depths {
			p("---:|")
		}
		p("---:|---|\n")
		for _, im := range impls {
			for _, prof := range profiles {
				if im != "racefree" && prof.name == "walk" {
					continue
				}
				p("| %s | %s |", implTitles[im], prof.name)
				for _, d := range depths {
					p(" %s |", syscalls(*dir, prof.name, lop, im, d, *n))
				}
				p(" %s |", trim(syscalls(*dir, prof.name, lop, im, "32", *n).runtime, 2))
				p(" %s |\n", syscalls(*dir, prof.name, lop, im, "8", *n).detail())
			}
		}
		p("\n")
	}

	p("## Targets\n\n")
	p("| target | depth | measured | met |\n|---|---|---|---|\n")
	yes := func(b bool) string {
		if b {
			return "yes"
		}
		return "**NO**"
	}
	for _, d := range depths {
		s := syscalls(*dir, "openat2", "open", "racefree", d, *n)
		p("| openat2: exactly 3 syscalls per open+close | %s | %s | %s |\n", d, s, yes(s.ok && s.perOp > 2.995 && s.perOp < 3.005))
	}
	for _, d := range depths {
		s := syscalls(*dir, "walk", "open", "racefree", d, *n)
		dn, _ := strconv.Atoi(d)
		p("| walk: at most 2N+3 = %d syscalls per open+close | %s | %s | %s |\n", 2*dn+3, d, s, yes(s.ok && s.perOp <= float64(2*dn+3)+0.005))
	}
	// ratio is a/b in both units; met is judged on CPU time (robust on a
	// shared machine), the wall ratio is shown beside it.
	ratio := func(r results, op, d, a, b string) (cpu, wall float64) {
		ca, _ := r.get(op, d, a, "cpu-ns/op")
		cb, _ := r.get(op, d, b, "cpu-ns/op")
		wa, _ := r.get(op, d, a, "ns/op")
		wb, _ := r.get(op, d, b, "ns/op")
		return ca / cb, wa / wb
	}
	show := func(cpu, wall float64) string {
		return fmt.Sprintf("%sx CPU (%sx wall)", trim(cpu, 2), trim(wall, 2))
	}
	r := res["openat2"]
	for _, d := range depths {
		c, w := ratio(r, "Open", d, "racefree", "openat2")
		p("| openat2: racefree at most 1.15x raw openat2+NewFile | %s | %s | %s |\n", d, show(c, w), yes(c <= 1.15))
	}
	for _, t := range []struct {
		d string
		x float64
	}{{"8", 4}, {"32", 10}} {
		c, w := ratio(r, "Open", t.d, "osroot", "racefree")
		p("| openat2: at least %gx faster than os.Root | %s | %s | %s |\n", t.x, t.d, show(c, w), yes(c >= t.x))
	}
	rw := res["walk"]
	for _, op := range []string{"Open", "Stat"} {
		for _, d := range depths {
			c, w := ratio(rw, op, d, "osroot", "racefree")
			p("| walk: faster than os.Root (%s; os.Root / racefree) | %s | %s | %s |\n", op, d, show(c, w), yes(c > 1))
		}
	}
	p("\n")

	for _, prof := range profiles {
		b, err := os.ReadFile(filepath.Join(*dir, "benchstat-"+prof.name+".txt"))
		if err == nil {
			p("## benchstat, profile `%s` (columns by implementation, deltas against racefree)\n\n```\n%s```\n\n", prof.name, b)
		}
	}
	if b, err := os.ReadFile(filepath.Join(*dir, "benchstat-profiles.txt")); err == nil {
		p("## benchstat, racefree openat2 profile vs walk profile\n\n```\n%s```\n\n", b)
	}
}

var unitTitles = map[string]string{
	"cpu-ns/op": "CPU time per op in ns (user+system, whole process)",
	"ns/op":     "wall time per op in ns",
}

func timeTable(p func(string, ...any), r results, op, prof, env, unit string, impls []string) {
	p("### %s, racefree profile `%s` (%s)\n\n", unitTitles[unit], prof, env)
	p("| depth |")
	for _, im := range impls {
		p(" %s |", implTitles[im])
	}
	p(" racefree spread |")
	for _, im := range impls[1:] {
		if im == "openat2" {
			p(" racefree / raw |")
		} else {
			p(" %s / racefree |", implTitles[im])
		}
	}
	p("\n|---|")
	for range 2 * len(impls) {
		p("---:|")
	}
	p("\n")
	for _, d := range depths {
		p("| %s |", d)
		rf, _ := r.get(op, d, "racefree", unit)
		for _, im := range impls {
			v, ok := r.get(op, d, im, unit)
			if !ok {
				p(" n/a |")
				continue
			}
			p(" %s |", trim(v, 0))
		}
		p(" ±%s%% |", trim(r.spread(op, d, "racefree", unit)/2, 1))
		for _, im := range impls[1:] {
			v, ok := r.get(op, d, im, unit)
			if !ok || rf == 0 {
				p(" n/a |")
				continue
			}
			if im == "openat2" {
				p(" **%sx** |", trim(rf/v, 2))
			} else {
				p(" **%sx** |", trim(v/rf, 2))
			}
		}
		p("\n")
	}
	p("\n")
}
