//go:build linux

package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/racefree/racefree/bench/internal/cases"
)

// Profiles: racefree with openat2 (RACEFREE_DISABLE unset) and with the
// per-component walk (RACEFREE_DISABLE=openat2), on the filesystem the run
// measures (a RAM-backed image as root); and disk, the openat2 profile's
// operations that wait for the filesystem, again on a disk-backed one.
const (
	openat2 = "openat2"
	walk    = "walk"
	disk    = "disk"
)

// diskOps are the operations measured on the disk-backed filesystem too:
// those that wait for the filesystem's journal, and the tree and archive
// jobs, whose metadata writes a RAM-backed image makes look cheap.
var diskOps = []string{"RemoveIfSame", "RenameIfSame", "ReplaceSymlink", "WriteFile", "Install", "WalkDir", "ChownTree", "ChownTreeOwned", "CopyTree", "Extract"}

// sample is one benchmark result line: unit -> value.
type sample map[string]float64

// run is everything run.sh measured.
type run struct {
	dir   string
	bench map[string]map[string][]sample // profile -> case name -> samples
}

func load(dir string) (*run, error) {
	r := &run{dir: dir, bench: map[string]map[string][]sample{}}
	known := map[string]bool{}
	for _, c := range cases.All() {
		known[c.Name()] = true
	}
	for _, p := range []string{openat2, walk, disk} {
		s, err := parseBench(filepath.Join(dir, "bench-"+p+".txt"), known)
		if p == disk && os.IsNotExist(err) {
			continue // run.sh found no disk-backed filesystem
		}
		if err != nil {
			return nil, err
		}
		r.bench[p] = s
	}
	return r, nil
}

// parseBench reads go test -bench output: case name -> samples. The
// GOMAXPROCS suffix ("-2") is dropped.
func parseBench(path string, known map[string]bool) (map[string][]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := map[string][]sample{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := strings.TrimPrefix(fields[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); !known[name] && i > 0 {
			name = name[:i]
		}
		if !known[name] {
			continue
		}
		s := sample{}
		for i := 2; i+1 < len(fields); i += 2 {
			if v, err := strconv.ParseFloat(fields[i], 64); err == nil {
				s[fields[i+1]] = v
			}
		}
		r[name] = append(r[name], s)
	}
	return r, sc.Err()
}

// values are unit's values in the samples of c under profile p.
func (r *run) values(p string, c cases.Case, unit string) []float64 {
	var xs []float64
	for _, s := range r.bench[p][c.Name()] {
		if v, ok := s[unit]; ok {
			xs = append(xs, v)
		}
	}
	return xs
}

// median of unit over c's samples; ok is false when there are none.
func (r *run) median(p string, c cases.Case, unit string) (float64, bool) {
	xs := r.values(p, c, unit)
	if len(xs) == 0 {
		return 0, false
	}
	return median(xs), true
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread is half of (max-min)/median, in percent: how far the samples of a
// cell stray either side of the median.
func spread(xs []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	return 50 * (slices.Max(xs) - slices.Min(xs)) / median(xs)
}

// mannWhitney is the two-sided p-value of the Mann-Whitney U test that
// a and b come from the same distribution (exact, by enumerating every
// split of the pooled samples: run.sh takes a handful of samples per cell).
// It is what benchstat uses to tell a difference from noise.
func mannWhitney(a, b []float64) float64 {
	n, m := len(a), len(b)
	if n == 0 || m == 0 || n+m > 24 {
		return math.NaN()
	}
	pooled := append(slices.Clone(a), b...)
	u := func(idx []int) float64 {
		in := make([]bool, n+m)
		for _, i := range idx {
			in[i] = true
		}
		var s float64
		for i := range pooled {
			if !in[i] {
				continue
			}
			for j := range pooled {
				if in[j] {
					continue
				}
				switch {
				case pooled[i] > pooled[j]:
					s++
				case pooled[i] == pooled[j]:
					s += 0.5
				}
			}
		}
		return s
	}
	first := make([]int, n)
	for i := range first {
		first[i] = i
	}
	mean := float64(n*m) / 2
	observed := math.Abs(u(first) - mean)
	var total, extreme float64
	// Every n-subset of the pooled indices, in lexicographic order.
	idx := slices.Clone(first)
	for {
		total++
		if math.Abs(u(idx)-mean) >= observed-1e-9 {
			extreme++
		}
		i := n - 1
		for i >= 0 && idx[i] == m+i {
			i--
		}
		if i < 0 {
			break
		}
		idx[i]++
		for j := i + 1; j < n; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
	return extreme / total
}

// runtimeSyscalls are made by the Go runtime (scheduler, sysmon, signals,
// memory, netpoller waits) in amounts that depend on time, not on the
// operation; they are left out of the per-operation count. So is
// restart_syscall, the kernel resuming a call strace's attach interrupted.
var runtimeSyscalls = map[string]bool{
	"restart_syscall": true,
	"futex":           true, "nanosleep": true, "sched_yield": true, "tgkill": true,
	"rt_sigreturn": true, "getpid": true, "gettid": true, "clone": true,
	"clone3": true, "mmap": true, "munmap": true, "madvise": true,
	"mprotect": true, "rt_sigprocmask": true, "rt_sigaction": true,
	"sigaltstack": true, "epoll_pwait": true, "epoll_wait": true,
	"sched_getaffinity": true, "getrandom": true,
	"rseq": true, "set_robust_list": true, // a new thread's set-up
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
		if n, err := strconv.Atoi(f[3]); err == nil {
			c[f[len(f)-1]] += n
		}
	}
	return c, nil
}

// syscalls is what one operation costs in system calls.
type syscalls struct {
	perOp     float64            // per operation, runtime syscalls left out
	breakdown map[string]float64 // per operation, by syscall
	ok        bool
}

// syscalls is the count for c under profile p: (run - skip) / N.
func (r *run) syscalls(p string, c cases.Case) syscalls {
	base := filepath.Join(r.dir, "strace", p, strings.ReplaceAll(c.Name(), "/", "_"))
	run, err1 := straceCounts(base + ".run.txt")
	skip, err2 := straceCounts(base + ".skip.txt")
	if err1 != nil || err2 != nil {
		return syscalls{}
	}
	s := syscalls{breakdown: map[string]float64{}, ok: true}
	names := map[string]bool{}
	for name := range run {
		names[name] = true
	}
	for name := range skip {
		names[name] = true
	}
	for name := range names {
		if runtimeSyscalls[name] || run[name] == skip[name] {
			continue
		}
		d := float64(run[name]-skip[name]) / float64(c.Op.Counted)
		s.breakdown[name] = d
		s.perOp += d
	}
	return s
}

func (s syscalls) String() string {
	if !s.ok {
		return "n/a"
	}
	return num(s.perOp)
}

// detail lists the syscalls of one operation, most frequent first.
func (s syscalls) detail() string {
	names := make([]string, 0, len(s.breakdown))
	for k := range s.breakdown {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		if s.breakdown[a] != s.breakdown[b] {
			if s.breakdown[a] > s.breakdown[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%s %s", k, num(s.breakdown[k]))
	}
	return strings.Join(parts, ", ")
}

// num prints a count: whole numbers as such, others with two decimals.
func num(x float64) string {
	if math.Abs(x-math.Round(x)) < 0.005 {
		return strconv.FormatFloat(math.Round(x), 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

// duration prints ns with three significant digits in a fitting unit.
func duration(ns float64) string {
	units := []struct {
		div  float64
		name string
	}{{1e9, "s"}, {1e6, "ms"}, {1e3, "µs"}, {1, "ns"}}
	for _, u := range units {
		if ns >= u.div || u.div == 1 {
			v := ns / u.div
			prec := 2
			switch {
			case v >= 100:
				prec = 0
			case v >= 10:
				prec = 1
			}
			return strconv.FormatFloat(v, 'f', prec, 64) + " " + u.name
		}
	}
	return ""
}

// ratio prints a/b as "5.9×".
func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a/b) {
		return "n/a"
	}
	x := a / b
	prec := 2
	if x >= 10 {
		prec = 1
	}
	return strconv.FormatFloat(x, 'f', prec, 64) + "×"
}
