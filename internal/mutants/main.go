// Command mutants is racefree's standing mutation check: it puts each bug
// of a curated list (list.go) into a scratch copy of the module, one at a
// time, runs only the tests named to kill it, and fails unless every one is
// killed. A mutant survives when its tests pass with the bug in place: the
// guarantee its line bears is then unproven, whatever the rest of the suite
// says. A mutant whose original text is not found exactly once no longer
// applies (the code moved on) and fails the check too, so the list cannot
// rot silently; nor may a mutant stop the package from building, which
// would "kill" it without any test having looked.
//
// Run from the module root (.ci/mutants does):
//
//	go run ./internal/mutants              # every mutant
//	go run ./internal/mutants -run walk -v # those whose name matches, with the test output
//	go run ./internal/mutants -list        # the list, nothing run
//
// It prints a table (mutant, test, result, seconds) and exits 1 if any
// mutant survived, no longer applies or broke the build.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// A mutant is one deliberate bug: Orig, found exactly once in File, becomes
// Repl. Pkg's tests matching Run (go test -run) must then fail.
//
// A one-line Orig is a substring of a line, matched exactly. One of several
// lines matches whole lines of the file, each compared without its leading
// tabs and spaces, so that an entry need not copy the file's indentation
// (Repl's lines are indented like the first line matched).
type mutant struct {
	Name string // short, unique: what the bug does
	File string // relative to the module root
	Orig string // exact text, found exactly once in File
	Repl string // what it becomes
	Pkg  string // the package whose tests kill it: "./dirfd"
	Run  string // go test -run regexp of the killing tests
	// Env are extra "KEY=value" entries for go test, typically the
	// RACEFREE_DISABLE profile that takes the mutated line.
	Env []string
	// Root: the killing tests need root (they mount) and skip otherwise,
	// so the mutant is not run, and said so, without it.
	Root bool
}

// outcome is what running one mutant gave.
type outcome struct {
	m       mutant
	result  string // "killed", "SURVIVED", "NOT APPLIED", "BROKE BUILD", "ERROR"
	elapsed time.Duration
	detail  string
	output  []byte
}

func (o outcome) ok() bool { return o.result == "killed" }

func main() {
	runRe := flag.String("run", "", "run only the mutants whose name matches this `regexp`")
	jobs := flag.Int("j", max(1, min(2, runtime.NumCPU())), "mutants tested at once (each in its own scratch copy)")
	timeout := flag.Duration("timeout", 3*time.Minute, "longest a mutant's test run may take before it counts as an error")
	verbose := flag.Bool("v", false, "print each mutant's test output")
	list := flag.Bool("list", false, "print the mutants and exit")
	flag.Parse()

	selected, err := selectMutants(mutants, *runRe)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		var kept []mutant
		for _, m := range selected {
			if m.Root {
				fmt.Printf("not root: skipping %q, whose tests need root\n", m.Name)
				continue
			}
			kept = append(kept, m)
		}
		selected = kept
	}
	if *list {
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "mutant\tfile\tpackage\ttests\tenv")
		for _, m := range selected {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.Name, m.File, m.Pkg, m.Run, strings.Join(m.Env, " "))
		}
		w.Flush()
		return
	}
	root, err := os.Getwd()
	if err == nil {
		_, err = os.Stat(filepath.Join(root, "go.mod"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mutants: run from the module root:", err)
		os.Exit(2)
	}
	start := time.Now()
	if err := warmUp(root, selected); err != nil {
		fmt.Fprintln(os.Stderr, "mutants: the unmutated tree does not build:", err)
		os.Exit(1)
	}
	// Every test command runs once on the unmutated tree too, first: a
	// mutant "killed" by a test that fails anyway proves nothing.
	bases := baselines(selected)
	all := runAll(root, append(bases, selected...), *jobs, *timeout)
	outcomes := judge(all[:len(bases)], all[len(bases):])
	failed := report(os.Stdout, outcomes, *verbose)
	fmt.Printf("%d mutants in %s with %d at once: %d killed, %d not\n",
		len(outcomes), time.Since(start).Round(time.Second), *jobs, len(outcomes)-failed, failed)
	if failed > 0 {
		os.Exit(1)
	}
}

// selectMutants checks the list (unique names, every field set) and
// returns the mutants whose name matches pattern.
func selectMutants(all []mutant, pattern string) ([]mutant, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []mutant
	for _, m := range all {
		if m.Name == "" || m.File == "" || m.Orig == "" || m.Pkg == "" || m.Run == "" {
			return nil, fmt.Errorf("mutant %q: name, file, original text, package and tests are all required", m.Name)
		}
		if m.Orig == m.Repl {
			return nil, fmt.Errorf("mutant %q changes nothing", m.Name)
		}
		if seen[m.Name] {
			return nil, fmt.Errorf("two mutants are called %q", m.Name)
		}
		seen[m.Name] = true
		if re.MatchString(m.Name) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no mutant matches %q", pattern)
	}
	return out, nil
}

// warmUp builds, once and one at a time, every package and dependency the
// mutants' test runs need, from the unmutated tree: with -trimpath the
// build cache then serves the workers' copies, which recompile only the
// mutated package and what imports it, instead of all compiling everything
// at once.
func warmUp(root string, ms []mutant) error {
	args := []string{"test", "-trimpath", "-count=1", "-run", "^$"}
	seen := map[string]bool{}
	for _, m := range ms {
		if !seen[m.Pkg] {
			seen[m.Pkg] = true
			args = append(args, m.Pkg)
		}
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "RACEFREE_TEST_NOREEXEC=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, out)
	}
	return nil
}

// baselines are the distinct test commands of ms, as mutants that change
// nothing (empty Orig).
func baselines(ms []mutant) []mutant {
	var out []mutant
	seen := map[string]bool{}
	for _, m := range ms {
		b := mutant{Name: "baseline", Pkg: m.Pkg, Run: m.Run, Env: m.Env}
		if k := b.command(); !seen[k] {
			seen[k] = true
			out = append(out, b)
		}
	}
	return out
}

// command identifies a mutant's test run.
func (m mutant) command() string { return m.Pkg + " " + m.Run + " " + strings.Join(m.Env, " ") }

// judge turns the mutants' outcomes into failures where their tests failed
// on the unmutated tree as well.
func judge(bases, muts []outcome) []outcome {
	failing := map[string]outcome{}
	for _, b := range bases {
		if b.result != "passes" {
			failing[b.m.command()] = b
		}
	}
	for i, o := range muts {
		if b, ok := failing[o.m.command()]; ok {
			muts[i].result = "UNPROVEN"
			muts[i].detail = "the tests fail without the mutant too (" + b.result + ": " + b.detail + ")"
			muts[i].output = b.output
		}
	}
	return muts
}

// runAll runs the mutants on jobs workers, each with a scratch copy of the
// module that it mutates and restores for one mutant after another.
func runAll(root string, ms []mutant, jobs int, timeout time.Duration) []outcome {
	outcomes := make([]outcome, len(ms))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(jobs, len(ms)) {
		wg.Go(func() {
			scratch, err := os.MkdirTemp("", "racefree-mutants-")
			if err == nil {
				defer os.RemoveAll(scratch)
				err = copyModule(root, scratch)
			}
			for i := range next {
				if err != nil {
					outcomes[i] = outcome{m: ms[i], result: "ERROR", detail: "scratch copy: " + err.Error()}
					continue
				}
				outcomes[i] = runOne(scratch, ms[i], timeout)
			}
		})
	}
	for i := range ms {
		next <- i
	}
	close(next)
	wg.Wait()
	return outcomes
}

// runOne applies m to the scratch copy, runs its tests and restores the
// file. The copy, not the tree it was made from, is the original: an edit
// made there meanwhile must not leak into half of the mutants.
func runOne(scratch string, m mutant, timeout time.Duration) outcome {
	o := outcome{m: m}
	if m.Orig == "" {
		return runTests(scratch, o, timeout)
	}
	target := filepath.Join(scratch, m.File)
	orig, err := os.ReadFile(target)
	if err != nil {
		o.result, o.detail = "NOT APPLIED", err.Error()
		return o
	}
	mutated, n := apply(string(orig), m.Orig, m.Repl)
	if n != 1 {
		o.result, o.detail = "NOT APPLIED", fmt.Sprintf("the original text is found %d times in %s, want once", n, m.File)
		return o
	}
	if err := os.WriteFile(target, []byte(mutated), 0o644); err != nil {
		o.result, o.detail = "ERROR", err.Error()
		return o
	}
	defer os.WriteFile(target, orig, 0o644)
	return runTests(scratch, o, timeout)
}

// runTests runs o's tests in scratch and judges the result: a baseline
// (empty Orig) must pass, a mutant must make a test fail.
func runTests(scratch string, o outcome, timeout time.Duration) outcome {
	m := o.m
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// -trimpath: the workers' copies live in different directories, and
	// without it no compiled package could be shared between them through
	// the build cache. NOREEXEC: the named tests run in this process's
	// profile only (Env chooses it), not once per profile and uid.
	cmd := exec.CommandContext(ctx, "go", "test", "-trimpath", "-count=1", "-run", m.Run, m.Pkg)
	cmd.Dir = scratch
	cmd.Env = append(append(os.Environ(), "RACEFREE_TEST_NOREEXEC=1"), m.Env...)
	cmd.Stdin = nil
	start := time.Now()
	out, err := cmd.CombinedOutput()
	o.elapsed, o.output = time.Since(start), out
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		o.result, o.detail = "ERROR", fmt.Sprintf("no verdict within %s", timeout)
	case err == nil && bytes.Contains(out, []byte("[no tests to run]")):
		o.result, o.detail = "SURVIVED", "no test matches "+m.Run
		if m.Orig == "" {
			o.result = "fails"
		}
	case m.Orig == "" && err == nil:
		o.result = "passes"
	case m.Orig == "":
		o.result, o.detail = "fails", firstFailure(out)
	case err == nil:
		o.result = "SURVIVED"
	case !errors.As(err, &exit):
		o.result, o.detail = "ERROR", err.Error()
	case bytes.Contains(out, []byte("[build failed]")) || bytes.Contains(out, []byte("[setup failed]")):
		o.result, o.detail = "BROKE BUILD", firstLines(out, 3)
	case bytes.Contains(out, []byte("--- FAIL")) || bytes.Contains(out, []byte("panic: ")):
		o.result, o.detail = "killed", firstFailure(out)
	default:
		o.result, o.detail = "ERROR", firstLines(out, 3)
	}
	return o
}

// apply replaces orig by repl in src (see mutant for how orig is matched)
// and says how many times orig was found; src is changed only when that is
// once.
func apply(src, orig, repl string) (string, int) {
	if !strings.Contains(orig, "\n") {
		n := strings.Count(src, orig)
		if n != 1 {
			return src, n
		}
		return strings.Replace(src, orig, repl, 1), 1
	}
	trim := func(s string) string { return strings.TrimLeft(s, " \t") }
	want := strings.Split(strings.Trim(orig, "\n"), "\n")
	lines := strings.SplitAfter(src, "\n")
	var at []int
	for i := 0; i+len(want) <= len(lines); i++ {
		match := true
		for j, w := range want {
			if trim(strings.TrimSuffix(lines[i+j], "\n")) != trim(w) {
				match = false
				break
			}
		}
		if match {
			at = append(at, i)
		}
	}
	if len(at) != 1 {
		return src, len(at)
	}
	first := lines[at[0]]
	indent := first[:len(first)-len(trim(first))]
	var b strings.Builder
	for _, l := range lines[:at[0]] {
		b.WriteString(l)
	}
	for _, l := range strings.Split(strings.Trim(repl, "\n"), "\n") {
		b.WriteString(indent + trim(l) + "\n")
	}
	for _, l := range lines[at[0]+len(want):] {
		b.WriteString(l)
	}
	return b.String(), 1
}

// report prints the table and returns how many mutants were not killed.
func report(w io.Writer, outcomes []outcome, verbose bool) int {
	failed := 0
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "mutant\ttest\tresult\tin\tdetail")
	for _, o := range outcomes {
		test := strings.TrimPrefix(o.m.Pkg, "./") + " " + o.m.Run
		if len(o.m.Env) > 0 {
			test += " (" + strings.Join(o.m.Env, " ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.0f s\t%s\n", o.m.Name, test, o.result, o.elapsed.Seconds(), o.detail)
		if !o.ok() {
			failed++
		}
	}
	tw.Flush()
	for _, o := range outcomes {
		if verbose || (!o.ok() && o.result != "SURVIVED" && len(o.output) > 0) {
			fmt.Fprintf(w, "\n--- %s: %s\n%s", o.m.Name, o.result, o.output)
		}
	}
	return failed
}

// firstFailure is the first "--- FAIL" line of a test run, the test that
// killed the mutant.
func firstFailure(out []byte) string {
	for line := range strings.Lines(string(out)) {
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "--- FAIL") || strings.HasPrefix(s, "panic: ") {
			return strings.TrimPrefix(s, "--- FAIL: ")
		}
	}
	return ""
}

func firstLines(out []byte, n int) string {
	lines := strings.SplitN(strings.TrimSpace(string(out)), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], " | ")
}

// copyModule copies every regular file of the module at root (not .git)
// into dst, keeping modes.
func copyModule(root, dst string) error {
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if e.IsDir() {
			if e.Name() == ".git" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !e.Type().IsRegular() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, info.Mode().Perm())
	})
}
