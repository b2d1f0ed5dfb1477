//go:build unix

package fstests_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/fstests"
	"github.com/racefree/racefree/internal/reexec"
	"github.com/racefree/racefree/internal/testfs"
)

// The matrix: every suite, on every filesystem of internal/testfs, in this
// process (the full profile as root, in CI) and in children re-executed
// under the other capability profiles and as uid 65534, all at once (the
// full-budget cell, full profile on ext4, in a child of its own). Each
// process appends its counts to a file of its own; the parent prints them
// as one table, on standard output and, when RACEFREE_MATRIX_TABLE names a
// file, there too (go test shows a passing package's output only with -v,
// and CI wants the table in its log either way).
//
// One suite in one cell, while working on it:
//
//	RACEFREE_TEST_NOREEXEC=1 go test -short -run 'TestMatrix/tmpfs/attacks/leak' -v ./fstests

const (
	resultsEnv = "FSTESTS_MATRIX_RESULTS" // the file a process appends its records to
	tableEnv   = "RACEFREE_MATRIX_TABLE"
	// requireEnv lists the cells the run promises (CI's proof run, as
	// root): filesystem names, each to be run in every profile and by
	// every uid, and "full-ext4" for the full-budget cell. A promised
	// cell that did not run (a missing mkfs, a mount that failed, a
	// skip) fails the matrix instead of leaving a row out of the table.
	requireEnv = "RACEFREE_MATRIX_REQUIRE"
	// onlyEnv, in a child, names the one filesystem its matrix covers.
	onlyEnv = "FSTESTS_MATRIX_ONLY"
)

// fullCell is the filesystem whose cell has the full budget (see budget),
// run by a child of its own beside the parent (see TestMain), and
// leftToChild is set in the parent that left it to that child.
const fullCell = "ext4"

var leftToChild bool

// profiles are the capability profiles of the matrix: everything; no
// openat2 (the O_PATH walk); no rename flags (exchange, no-replace and
// whiteout emulated or refused); no AT_EMPTY_PATH links (procfs instead);
// nothing at all.
var profiles = []string{"", "openat2", "rename_noreplace,rename_exchange,rename_whiteout", "link_empty_path", "all"}

// profileLabels are the profiles' names in the table.
var profileLabels = []string{"full", "no-openat2", "no-rename-flags", "no-empty-path-link", "none (all disabled)"}

func profileLabel(disable string) string {
	if i := slices.Index(profiles, disable); i >= 0 {
		return profileLabels[i]
	}
	return "RACEFREE_DISABLE=" + disable
}

// record is one line of a results file.
type record struct {
	Profile string  `json:"profile"`
	UID     int     `json:"uid"`
	FS      string  `json:"fs"`
	Suite   string  `json:"suite"` // "conformance" or an attack's name
	Side    string  `json:"side,omitempty"`
	Ops     int64   `json:"ops"`
	Escapes int64   `json:"escapes"`
	Seconds float64 `json:"seconds"`
	Verdict string  `json:"verdict"`
	Full    bool    `json:"full,omitempty"` // the cell had the full budget (see budget)
}

func TestMain(m *testing.M) {
	var files []string
	var wait func() int
	if reexec.Wanted() {
		if err := testfs.Prepare(); err != nil {
			fmt.Printf("=== fstests: preparing the filesystems: %v\n", err)
			os.Exit(1)
		}
		own, err := resultsFile()
		if err != nil {
			fmt.Printf("=== fstests: %v\n", err)
			os.Exit(1)
		}
		os.Setenv(resultsEnv, own)
		files = append(files, own)
		children := reexec.Children(profiles)
		if os.Getenv(capability.EnvDisable) == "" {
			// The full-budget cell takes as long as the other four of
			// this process together: a child of its own runs it at the
			// same time, which takes minutes off the matrix.
			children = append(children, &reexec.Child{Label: "full, " + fullCell + " only", Env: []string{onlyEnv + "=" + fullCell}})
			leftToChild = true
		}
		for _, c := range children {
			f, err := resultsFile()
			if err != nil {
				fmt.Printf("=== fstests: %v\n", err)
				os.Exit(1)
			}
			c.Env = append(c.Env, resultsEnv+"="+f)
			files = append(files, f)
		}
		wait = reexec.Start(children)
	}
	code := m.Run()
	if wait != nil {
		if wait() != 0 && code == 0 {
			code = 1
		}
		recs, err := readRecords(files)
		if err == nil {
			err = printTable(recs)
		}
		if err != nil {
			fmt.Printf("=== fstests: the matrix table: %v\n", err)
			code = 1
		}
		if err := checkPromised(recs, os.Getenv(requireEnv)); err != nil {
			fmt.Printf("=== fstests: %v\n", err)
			code = 1
		}
		for _, f := range files {
			os.Remove(f)
		}
	}
	if err := testfs.Release(); err != nil {
		fmt.Printf("=== fstests: releasing the test filesystems: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// resultsFile makes an empty file every child can append to: those running
// as uid 65534 too.
func resultsFile() (string, error) {
	f, err := os.CreateTemp("", "fstests-results-")
	if err != nil {
		return "", err
	}
	name := f.Name()
	f.Close()
	return name, os.Chmod(name, 0o666)
}

// budget is the matrix's budget for one cell. The bar: the full
// profile on ext4 runs each attack side for 50,000 victim operations or
// 10 s, every other cell for 2 s. Under -short and under the race detector
// (CI's second run, after the full one) cells get a fraction of that.
func budget(fsName string) (time.Duration, int64) {
	switch {
	case testing.Short():
		return 200 * time.Millisecond, 0
	case raceEnabled && fsName == "fuse":
		// The FUSE server is the race-instrumented test binary too, and
		// answers so slowly that 500 ms may not see one swap.
		return 2 * time.Second, 0
	case raceEnabled:
		return time.Second, 0
	case fsName == fullCell && os.Getenv(capability.EnvDisable) == "":
		return 10 * time.Second, 50_000
	}
	return 2 * time.Second, 0
}

func TestMatrix(t *testing.T) {
	out := os.Getenv(resultsEnv)
	var w io.Writer = io.Discard
	if out != "" {
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		w = f
	}
	enc := json.NewEncoder(w)
	profile, uid := os.Getenv(capability.EnvDisable), os.Geteuid()
	// Each process of the matrix starts at another filesystem, so that
	// they do not all load the same one at once (see testfs.EachFrom).
	start := slices.Index(profiles, profile) * 2
	if uid != 0 {
		start++
	}
	testfs.EachFrom(t, start, func(t *testing.T, tfs testfs.FS) {
		switch only := os.Getenv(onlyEnv); {
		case only != "" && tfs.Name != only:
			t.Skipf("this process runs the %s cell only", only)
		case only == "" && leftToChild && tfs.Name == fullCell:
			t.Skipf("a child runs the %s cell of this profile", fullCell)
		}
		d, ops := budget(tfs.Name)
		write := func(r record) {
			r.Profile, r.UID, r.FS, r.Full = profile, uid, tfs.Name, ops > 0
			if err := enc.Encode(r); err != nil {
				t.Errorf("writing %s: %v", out, err)
			}
		}
		o := fstests.Options{
			Dir:      tfs.Dir,
			Duration: d,
			Ops:      ops,
			// -short is a quick look, and the race detector's run is
			// for data races, at a fraction of the speed: a control
			// their short budgets missed is a skip there. The full run
			// is the proof, and there it is a failure.
			RequireControl: !testing.Short() && !raceEnabled,
			Report: func(r fstests.Result) {
				write(record{Suite: r.Attack, Side: string(r.Side), Ops: r.Ops, Escapes: r.Escapes,
					Seconds: r.Elapsed.Seconds(), Verdict: string(r.Verdict)})
			},
		}
		start := time.Now()
		verdict := "pass"
		t.Run("conformance", func(t *testing.T) {
			defer func() {
				switch {
				case t.Failed():
					verdict = "FAIL"
				case t.Skipped():
					verdict = "skip"
				}
			}()
			fstests.Conformance(t, o)
		})
		write(record{Suite: "conformance", Seconds: time.Since(start).Seconds(), Verdict: verdict})
		t.Run("attacks", func(t *testing.T) { fstests.Attacks(t, o) })
	})
}

// readRecords reads every process's results file.
func readRecords(files []string) ([]record, error) {
	var recs []record
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var r record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			recs = append(recs, r)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return recs, nil
}

// cellKey names a cell of the matrix.
type cellKey struct {
	profile string
	uid     int
	fs      string
}

// checkPromised returns an error naming every cell that promised (see
// requireEnv) lists and recs do not show run: its conformance suite
// passed and its attacks reported.
func checkPromised(recs []record, promised string) error {
	if promised == "" {
		return nil
	}
	conformed, attacked, full := map[cellKey]bool{}, map[cellKey]bool{}, false
	for _, r := range recs {
		k := cellKey{r.Profile, r.UID, r.FS}
		switch {
		case r.Suite == "conformance":
			conformed[k] = conformed[k] || r.Verdict == "pass"
		case r.Side == string(fstests.Racefree) && r.Ops > 0:
			attacked[k] = true
			full = full || r.Full && k == cellKey{"", 0, "ext4"}
		}
	}
	var missing []string
	for _, name := range strings.Split(promised, ",") {
		switch name = strings.TrimSpace(name); name {
		case "":
		case "full-ext4":
			if !full {
				missing = append(missing, "the full-budget ext4 cell (full profile, uid 0)")
			}
		default:
			for _, p := range profiles {
				for _, uid := range []int{0, reexec.NobodyID} {
					if k := (cellKey{p, uid, name}); !conformed[k] || !attacked[k] {
						missing = append(missing, fmt.Sprintf("%s/uid %d/%s", profileLabel(p), uid, name))
					}
				}
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s promised cells that did not run (no passing conformance suite or no attack): %s", requireEnv, strings.Join(missing, "; "))
	}
	return nil
}

// printTable prints every process's records as one table: a row per cell
// (profile, uid, filesystem), a column per suite. An attack's column reads
// "ops/escapes n:escapes" for racefree and its naive control.
func printTable(recs []record) error {
	var cells []cellKey
	var suites []string
	byCell := map[cellKey]map[string]map[string]record{}
	for _, r := range recs {
		k := cellKey{r.Profile, r.UID, r.FS}
		if byCell[k] == nil {
			byCell[k] = map[string]map[string]record{}
			cells = append(cells, k)
		}
		if byCell[k][r.Suite] == nil {
			byCell[k][r.Suite] = map[string]record{}
			if !slices.Contains(suites, r.Suite) {
				suites = append(suites, r.Suite)
			}
		}
		byCell[k][r.Suite][r.Side] = r
	}
	order := func(s []string, v string) int {
		if i := slices.Index(s, v); i >= 0 {
			return i
		}
		return len(s)
	}
	suiteOrder := append([]string{"conformance"}, fstests.AttackNames()...)
	slices.SortStableFunc(suites, func(a, b string) int { return order(suiteOrder, a) - order(suiteOrder, b) })
	fsOrder := []string{"ext4", "xfs", "btrfs", "tmpfs", "fuse", "tempdir"}
	slices.SortStableFunc(cells, func(a, b cellKey) int {
		if d := order(profiles, a.profile) - order(profiles, b.profile); d != 0 {
			return d
		}
		if a.uid != b.uid {
			return a.uid - b.uid
		}
		return order(fsOrder, a.fs) - order(fsOrder, b.fs)
	})

	var sb strings.Builder
	fmt.Fprintf(&sb, "=== fstests matrix: racefree ops/escapes and naive-control escapes (n:) per attack side; budget per side: full profile on ext4 %s, other cells %s; a naive control not yet caught goes on for up to %s\n",
		"50,000 ops or 10 s", "2 s", "five budgets (Options.Duration)")
	if testing.Short() || raceEnabled {
		fmt.Fprintf(&sb, "=== (this run is -short or -race: every cell got a reduced budget, see budget(), and a naive control it did not catch is a skip, not a failure)\n")
	}
	header := []string{"profile", "uid", "fs"}
	header = append(header, suites...)
	rows := [][]string{header}
	var ourEscapes, controls, caught, failedConf int64
	for _, k := range cells {
		row := []string{profileLabel(k.profile), fmt.Sprint(k.uid), k.fs}
		for _, s := range suites {
			sides := byCell[k][s]
			switch {
			case len(sides) == 0:
				row = append(row, "-")
			case s == "conformance":
				r := sides[""]
				if r.Verdict == "FAIL" {
					failedConf++
				}
				row = append(row, r.Verdict)
			default:
				ours, naive := sides[string(fstests.Racefree)], sides[string(fstests.Naive)]
				ourEscapes += ours.Escapes
				controls++
				if naive.Escapes > 0 {
					caught++
				}
				row = append(row, fmt.Sprintf("%d/%d n:%d", ours.Ops, ours.Escapes, naive.Escapes))
			}
		}
		rows = append(rows, row)
	}
	// How long the racefree sides ran: the bar is on time (or, in the
	// full cells, operations), so the table shows it was met.
	for _, full := range []bool{true, false} {
		label := "racefree s, full cells"
		if !full {
			label = "racefree s, other cells"
		}
		row := []string{label, "", ""}
		for _, s := range suites {
			lo, hi := -1.0, -1.0
			for _, k := range cells {
				r, ok := byCell[k][s][string(fstests.Racefree)]
				if !ok || (k.fs == "ext4" && k.profile == "") != full {
					continue
				}
				if lo < 0 || r.Seconds < lo {
					lo = r.Seconds
				}
				hi = max(hi, r.Seconds)
			}
			if s == "conformance" || lo < 0 {
				row = append(row, "")
				continue
			}
			row = append(row, fmt.Sprintf("%.1f-%.1f", lo, hi))
		}
		rows = append(rows, row)
	}
	widths := make([]int, len(header))
	for _, row := range rows {
		for i, c := range row {
			widths[i] = max(widths[i], len(c))
		}
	}
	for _, row := range rows {
		for i, c := range row {
			fmt.Fprintf(&sb, "%-*s  ", widths[i], c)
		}
		sb.WriteString("\n")
	}
	fmt.Fprintf(&sb, "=== fstests matrix: %d cells; racefree escapes: %d; naive controls caught: %d of %d; conformance failures: %d\n",
		len(cells), ourEscapes, caught, controls, failedConf)
	fmt.Print(sb.String())
	if name := os.Getenv(tableEnv); name != "" {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		_, werr := f.WriteString(sb.String())
		if err := f.Close(); werr == nil {
			werr = err
		}
		return werr
	}
	return nil
}
