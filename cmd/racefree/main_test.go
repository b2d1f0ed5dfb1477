package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/racefree/racefree/capability"
)

// binary is the racefree command, built once by TestMain.
var binary string

// binaryEnv hands the built command to the re-run as uid 65534, which
// could not build it (the module cache is root's).
const binaryEnv = "RACEFREE_CMD_TEST_BINARY"

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

// buildAndRun builds the command, runs the tests and, as root, runs them
// again as uid 65534, where permission checks apply (see
// internal/reexec): every command test holds for root and for a normal
// user.
func buildAndRun(m *testing.M) int {
	if bin, ok := builtByParent(); ok {
		binary = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "racefree-cmd-test-")
	if err == nil {
		err = os.Chmod(dir, 0o755) // for uid 65534 to run the command
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "racefree")
	// go test puts its own toolchain first in PATH.
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building racefree:", err)
		return 1
	}
	code := m.Run()
	if rerunAsNobody() != 0 && code == 0 {
		code = 1
	}
	return code
}

type result struct {
	code           int
	stdout, stderr string
}

// racefree runs the built command in dir with args and extra environment.
func racefree(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	return racefreeIO(t, dir, env, nil, args...)
}

// racefreeIO is racefree with standard input read from stdin.
func racefreeIO(t *testing.T, dir string, env []string, stdin io.Reader, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running racefree %q: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func (r result) expect(t *testing.T, code int, stdoutHas, stderrHas []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdoutHas {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func featureNames() []string {
	var names []string
	for _, f := range capability.All() {
		names = append(names, string(f))
	}
	return names
}

type capsJSON struct {
	Features []struct {
		Name      string  `json:"name"`
		Available *bool   `json:"available"`
		Detail    *string `json:"detail"`
	} `json:"features"`
	Dir *struct {
		Path     string `json:"path"`
		Features []struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Detail    string `json:"detail"`
		} `json:"features"`
		InstallLayout string `json:"install_layout"`
	} `json:"dir"`
}

func parseCaps(t *testing.T, out string) capsJSON {
	t.Helper()
	var c capsJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("caps --json output does not parse: %v\n%s", err, out)
	}
	return c
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		out  string // on stdout or stderr
	}{
		{"no arguments", nil, 2, "usage: racefree COMMAND"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"help", []string{"--help"}, 0, "usage: racefree COMMAND"},
		{"command help", []string{"caps", "-h"}, 0, "usage: racefree caps"},
		{"unknown flag", []string{"caps", "--bogus"}, 2, "racefree: caps: flag provided but not defined: -bogus"},
		{"two dirs", []string{"caps", ".", "."}, 2, "racefree: caps: at most one DIR"},
		{"resolve without path", []string{"resolve"}, 2, "racefree: resolve: want exactly one PATH"},
		{"resolve with bad mode", []string{"resolve", "--mode", "sideways", "x"}, 2, `racefree: resolve: unknown --mode "sideways"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := racefree(t, t.TempDir(), nil, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit status %d, want %d (stderr: %s)", r.code, tc.code, r.stderr)
			}
			if !strings.Contains(r.stdout+r.stderr, tc.out) {
				t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", tc.out, r.stdout, r.stderr)
			}
			if tc.code == 2 && r.stdout != "" {
				t.Errorf("usage error wrote to stdout:\n%s", r.stdout)
			}
		})
	}
}

func TestCapsJSONListsEveryFeature(t *testing.T) {
	r := racefree(t, t.TempDir(), nil, "caps", "--json")
	r.expect(t, 0, nil, nil)
	c := parseCaps(t, r.stdout)
	var got []string
	for _, f := range c.Features {
		got = append(got, f.Name)
		if f.Available == nil || f.Detail == nil || *f.Detail == "" {
			t.Errorf("feature %s lacks available or detail", f.Name)
		}
	}
	if want := featureNames(); !slices.Equal(got, want) {
		t.Errorf("features %q, want %q", got, want)
	}
	if len(got) != 14 {
		t.Errorf("%d features, want 14", len(got))
	}
	if c.Dir != nil {
		t.Errorf("dir reported without DIR")
	}
}

func TestCapsText(t *testing.T) {
	r := racefree(t, t.TempDir(), nil, "caps")
	r.expect(t, 0, featureNames(), nil)
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

func TestCapsDir(t *testing.T) {
	dir := t.TempDir()
	r := racefree(t, t.TempDir(), nil, "caps", "--json", dir)
	r.expect(t, 0, nil, nil)
	c := parseCaps(t, r.stdout)
	if c.Dir == nil || c.Dir.Path != dir {
		t.Fatalf("no report for %s:\n%s", dir, r.stdout)
	}
	if len(c.Dir.Features) != len(capability.All()) {
		t.Errorf("dir report has %d features, want %d", len(c.Dir.Features), len(capability.All()))
	}
	for _, f := range c.Dir.Features {
		// Not capability.Has: a process report that hid the feature would
		// excuse its absence here. The kernel has it on Linux's temporary
		// directories unless the profile disables it.
		if f.Name == string(capability.RenameExchange) && runtime.GOOS == "linux" && !capability.Disabled(capability.RenameExchange) &&
			(!f.Available || f.Detail != capability.DetailConfirmed) {
			t.Errorf("rename_exchange on a temporary directory: available %v, %q", f.Available, f.Detail)
		}
	}
	if want := wantInstallLayout(""); c.Dir.InstallLayout != want {
		t.Errorf("install_layout %q, want %q", c.Dir.InstallLayout, want)
	}
	versioned := parseCaps(t, racefree(t, dir, []string{capability.EnvDisable + "=rename_exchange"}, "caps", "--json", ".").stdout)
	if versioned.Dir == nil || versioned.Dir.InstallLayout != "versioned" {
		t.Errorf("without rename_exchange: install_layout %+v, want versioned", versioned.Dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Errorf("caps left something behind in %s: %v %v", dir, entries, err)
	}

	text := racefree(t, dir, nil, "caps", ".")
	text.expect(t, 0, []string{"filesystem of .:", "rename_exchange", "install layout: " + wantInstallLayout("")}, nil)

	missing := racefree(t, dir, nil, "caps", "no-such-dir")
	missing.expect(t, 1, nil, []string{"racefree: caps: ", "no-such-dir"})
}

func TestCapsWarnsAboutUnknownDisabledNames(t *testing.T) {
	r := racefree(t, t.TempDir(), []string{capability.EnvDisable + "=rename_exchange,renam_noreplace"}, "caps", "--json")
	r.expect(t, 0, nil, []string{`"renam_noreplace"`})
	for _, f := range parseCaps(t, r.stdout).Features {
		if f.Name == "rename_exchange" && *f.Available {
			t.Errorf("rename_exchange available although disabled")
		}
	}
}

func TestResolve(t *testing.T) {
	root := t.TempDir()
	for _, p := range []string{"a/b"} {
		if err := os.MkdirAll(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "a/b/f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for target, link := range map[string]string{"b/f": "a/lf", "../..": "a/up", "/a": "abs"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"plain", []string{"a/b/f"}, 0, []string{"lands:  a/b/f\n", "type:   regular file\n"}, nil},
		{"dot-dot inside", []string{"a/b/../b/f"}, 0, []string{"lands:  a/b/f\n"}, nil},
		{"root itself", []string{"."}, 0, []string{"lands:  .\n", "type:   directory\n"}, nil},
		{"final symlink is not followed, then reported", []string{"a/lf"}, 0,
			[]string{"lands:  a/lf\n", "type:   symlink\n", "target: b/f\n", "follows: a/b/f (regular file)\n"}, nil},
		{"dot-dot escapes", []string{"../x"}, 1, nil, []string{"racefree: resolve: ../x: escapes from the root"}},
		{"symlink escapes", []string{"a/up/x"}, 1, nil, []string{"racefree: resolve: a/up/x: escapes from the root"}},
		{"absolute name escapes beneath", []string{"/etc"}, 1, nil, []string{"escapes from the root"}},
		{"final symlink that escapes", []string{"a/up"}, 0, []string{"type:   symlink\n", "follows: refused: escapes from the root"}, nil},
		{"in-root keeps dot-dot at the top", []string{"--mode", "in-root", "a/up/a/b"}, 0, []string{"lands:  a/b\n"}, nil},
		{"in-root absolute symlink", []string{"--mode=in-root", "abs/b"}, 0, []string{"lands:  a/b\n"}, nil},
		{"no-symlinks refuses one on the way", []string{"--mode", "no-symlinks", "a/up/a"}, 1, nil, []string{"racefree: resolve: a/up/a: a symlink is in the way"}},
		{"missing", []string{"a/nope"}, 1, nil, []string{"racefree: resolve: a/nope: no such file or directory"}},
		{"flags after the operand", []string{"a/b", "--root", "."}, 0, []string{"lands:  a/b\n"}, nil},
		{"--in-root is --mode in-root", []string{"--in-root", ".", "a/up/a/b"}, 0, []string{"lands:  a/b\n"}, nil},
		{"--in-root with --mode in-root", []string{"--in-root", ".", "--mode", "in-root", "/abs/b"}, 0, []string{"lands:  a/b\n"}, nil},
		{"--in-root with another mode", []string{"--in-root", ".", "--mode", "no-symlinks", "a"}, 2, nil, []string{"--in-root resolves in-root"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := racefree(t, root, nil, append([]string{"resolve"}, tc.args...)...)
			r.expect(t, tc.code, tc.stdout, tc.stderr)
		})
	}

	t.Run("root flag", func(t *testing.T) {
		r := racefree(t, t.TempDir(), nil, "resolve", "--root", filepath.Join(root, "a"), "b/f")
		r.expect(t, 0, []string{"lands:  b/f\n"}, nil)
		r = racefree(t, t.TempDir(), nil, "resolve", "--root", filepath.Join(root, "a"), "../abs")
		r.expect(t, 1, nil, []string{"escapes from the root"})
	})
}
