package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/racefree/racefree/capability"
)

// cmdCase is one run of a command in a fresh directory built from tree.
type cmdCase struct {
	name   string
	tree   []string
	args   []string
	stdin  string
	code   int
	stderr []string // substrings; on failure always "racefree: CMD: "
	check  func(t *testing.T, root string)
	// needs is the feature without which the case's outcome differs (it
	// is skipped then).
	needs capability.Feature
	// before are commands run first, in the same directory and profile;
	// each must succeed.
	before [][]string
}

// run runs the case with RACEFREE_DISABLE set to disable.
func (tc cmdCase) run(t *testing.T, disable string) {
	t.Helper()
	if tc.needs != "" && (!capability.Has(tc.needs) || disable != "") {
		t.Skipf("needs %s", tc.needs)
	}
	root := t.TempDir()
	makeTree(t, root, tc.tree...)
	var env []string
	if disable != "" {
		env = []string{capability.EnvDisable + "=" + disable}
	}
	for _, args := range tc.before {
		if r := racefree(t, root, env, args...); r.code != 0 {
			t.Fatalf("racefree %q: exit status %d\n%s", args, r.code, r.stderr)
		}
	}
	r := racefreeIO(t, root, env, strings.NewReader(tc.stdin), tc.args...)
	stderr := tc.stderr
	if tc.code != 0 {
		stderr = append([]string{"racefree: " + tc.args[0] + ": "}, stderr...)
	}
	r.expect(t, tc.code, nil, stderr)
	if tc.code == 0 && r.stderr != "" {
		t.Errorf("success with stderr:\n%s", r.stderr)
	}
	if tc.code == exitUsage && !strings.Contains(r.stderr, "usage: racefree "+tc.args[0]) {
		t.Errorf("usage error without the usage line:\n%s", r.stderr)
	}
	if tc.check != nil {
		tc.check(t, root)
	}
	wantNoStaging(t, root)
}

// TestCommandsWithoutPrimitives runs every command case again with all
// optional kernel primitives reported missing, so the CLI is seen to work
// (with the same outcomes) on the fallbacks too.
func TestCommandsWithoutPrimitives(t *testing.T) {
	for name, cases := range map[string][]cmdCase{"ln": lnCases(), "mv": mvCases(), "rm": rmCases(), "write": writeCases(t)} {
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) { tc.run(t, "all") })
		}
	}
}

// wantInstallLayout is the layout install uses on a temporary directory
// under the profile disable ("" or one that disables rename_exchange).
func wantInstallLayout(disable string) string {
	if disable == "" && (capability.Has(capability.RenameExchange) || capability.Has(capability.RenameatxNp)) {
		return "direct"
	}
	return "versioned"
}

// makeTree builds entries under root from one-line specs, in order:
// "dir a/b", "file a/f CONTENT" (CONTENT optional), "symlink a/l TARGET",
// "link a/new a/old" (a hard link), "mode a/f 4755" (octal, set exactly),
// "mtime a/f UNIXSECONDS" (access and modification time), "chown a/f UID"
// (owner and group, not following a symlink). Missing parent directories
// are created.
func makeTree(t *testing.T, root string, specs ...string) {
	t.Helper()
	for _, spec := range specs {
		f := strings.SplitN(spec, " ", 3)
		p := filepath.Join(root, f[1])
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch f[0] {
		case "dir":
			err = os.MkdirAll(p, 0o755)
		case "file":
			content := ""
			if len(f) == 3 {
				content = f[2]
			}
			err = os.WriteFile(p, []byte(content), 0o644)
		case "symlink":
			err = os.Symlink(f[2], p)
		case "link":
			err = os.Link(filepath.Join(root, f[2]), p)
		case "mode":
			var m fs.FileMode
			if m, err = parseMode(f[2]); err == nil {
				err = os.Chmod(p, m)
			}
		case "mtime":
			var sec int64
			if sec, err = strconv.ParseInt(f[2], 10, 64); err == nil {
				err = os.Chtimes(p, time.Unix(sec, 0), time.Unix(sec, 0))
			}
		case "chown":
			var id int
			if id, err = strconv.Atoi(f[2]); err == nil {
				err = os.Lchown(p, id, id)
			}
		default:
			t.Fatalf("bad tree spec %q", spec)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// wantLink checks that path is a symlink to target.
func wantLink(t *testing.T, path, target string) {
	t.Helper()
	got, err := os.Readlink(path)
	if err != nil || got != target {
		t.Errorf("%s: link to %q (%v), want %q", path, got, err, target)
	}
}

// wantContent checks that path is a regular file holding content.
func wantContent(t *testing.T, path, content string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("%s: not a regular file (%v, %v)", path, fi, err)
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != content {
		t.Errorf("%s holds %q (%v), want %q", path, got, err, content)
	}
}

// wantMissing checks that path does not exist.
func wantMissing(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (%v), want it gone", path, err)
	}
}

// wantSameFile checks that two paths are hard links to one object.
func wantSameFile(t *testing.T, a, b string) {
	t.Helper()
	fa, errA := os.Lstat(a)
	fb, errB := os.Lstat(b)
	if errA != nil || errB != nil || !os.SameFile(fa, fb) {
		t.Errorf("%s and %s are not the same file (%v, %v)", a, b, errA, errB)
	}
}

// wantNoStaging checks that nothing racefree stages in dir was left behind.
func wantNoStaging(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".racefree-") {
			t.Errorf("%s: staging leftover %s", dir, e.Name())
		}
	}
}
