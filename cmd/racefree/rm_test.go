package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRm(t *testing.T) {
	for _, tc := range rmCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

func rmCases() []cmdCase {
	j := filepath.Join
	return []cmdCase{
		{name: "file",
			tree: []string{"file f"}, args: []string{"rm", "f"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "f")) }},
		{name: "several files in several directories",
			tree: []string{"file a/f", "file b/c/g"}, args: []string{"rm", "a/f", "b/c/g"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "a/f")); wantMissing(t, j(r, "b/c/g")) }},
		{name: "a symlink is removed, not its target",
			tree: []string{"file f data", "dir d", "symlink lf f", "symlink ld d"}, args: []string{"rm", "lf", "ld"},
			check: func(t *testing.T, r string) {
				wantMissing(t, j(r, "lf"))
				wantMissing(t, j(r, "ld"))
				wantContent(t, j(r, "f"), "data")
			}},
		{name: "a directory without -r",
			tree: []string{"dir d"}, args: []string{"rm", "d"},
			code: 1, stderr: []string{"d: is a directory"},
			check: func(t *testing.T, r string) {
				if _, err := os.Stat(j(r, "d")); err != nil {
					t.Error(err)
				}
			}},
		{name: "an empty directory with -r",
			tree: []string{"dir d"}, args: []string{"rm", "-r", "d"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "d")) }},
		{name: "a tree with -r, symlinks not followed",
			tree:  []string{"dir out", "file out/keep data", "file d/a/b/f", "symlink d/a/toout ../../out", "symlink d/abs /", "dir d/e"},
			args:  []string{"rm", "-r", "d"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "d")); wantContent(t, j(r, "out/keep"), "data") }},
		{name: "-R and a trailing slash",
			tree: []string{"file d/f"}, args: []string{"rm", "-R", "d/"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "d")) }},
		{name: "a trailing slash on a file",
			tree: []string{"file f"}, args: []string{"rm", "f/"},
			code: 1, stderr: []string{"cannot remove f/: not a directory"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "f"), "") }},
		{name: "a trailing slash on a symlink to a directory",
			tree: []string{"file d/f", "symlink l d"}, args: []string{"rm", "-r", "l/"},
			code: 1, stderr: []string{"cannot remove l/: not a directory"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "d/f"), ""); wantLink(t, j(r, "l"), "d") }},
		{name: "missing",
			args: []string{"rm", "nope"}, code: 1, stderr: []string{"cannot remove nope: no such file or directory"}},
		{name: "missing with -r",
			args: []string{"rm", "-r", "nope"}, code: 1, stderr: []string{"cannot remove nope: no such file or directory"}},
		{name: "missing with -f",
			tree: []string{"file f"}, args: []string{"rm", "-f", "nope", "no/such/dir/f", "f"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "f")) }},
		{name: "-rf",
			tree: []string{"file d/f"}, args: []string{"rm", "-rf", "d", "nope"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "d")) }},
		{name: "one failure does not stop the others",
			tree: []string{"file a", "dir d", "file b"}, args: []string{"rm", "a", "d", "b"},
			code: 1, stderr: []string{"d: is a directory"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "a")); wantMissing(t, j(r, "b")) }},
		{name: "dot and dot-dot are refused",
			tree: []string{"file d/f"}, args: []string{"rm", "-rf", ".", "d/..", "/"},
			code: 1, stderr: []string{`.: refusing to remove "/", "." or ".."`, "d/..: refusing", "/: refusing"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "d/f"), "") }},

		{name: "no operands", args: []string{"rm"}, code: 2, stderr: []string{"missing PATH"}},
		{name: "no operands with -f", args: []string{"rm", "-f"}},
		{name: "empty operand", args: []string{"rm", "-f", ""}, code: 2, stderr: []string{"empty operand"}},
		{name: "unknown flag", args: []string{"rm", "-i", "x"}, code: 2},
	}
}

// TestRmRecursiveStopsAtMountPoints: rm -r neither empties a mounted
// filesystem it is given nor one it meets below, and a bind mount of a
// directory of the same filesystem (the same st_dev: only the mount ID
// tells it apart) counts as a mount. Everything around a mount point below
// the operand is still removed.
func TestRmRecursiveStopsAtMountPoints(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root; run the tests as root to cover mount points")
	}
	for _, tc := range []struct {
		name  string
		mount func(t *testing.T, root, p string)
	}{
		{"tmpfs", func(t *testing.T, _, p string) { mustMount(t, "-t", "tmpfs", "racefree-test", p) }},
		{"bind mount of the same filesystem", func(t *testing.T, root, p string) {
			src := filepath.Join(root, "src-"+filepath.Base(filepath.Dir(p))+"-"+filepath.Base(p))
			if err := os.Mkdir(src, 0o755); err != nil {
				t.Fatal(err)
			}
			mustMount(t, "--bind", src, p)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			makeTree(t, root, "dir m", "dir d/sub", "file d/a/f", "file d/z")
			for _, mnt := range []string{"m", "d/sub"} {
				tc.mount(t, root, filepath.Join(root, mnt))
				makeTree(t, root, "file "+mnt+"/keep data")
			}
			r := racefree(t, root, nil, "rm", "-r", "m", "d")
			r.expect(t, 1, nil, []string{"racefree: rm: m: is a mount point", "racefree: rm: cannot remove d/sub: it is a mount point"})
			wantContent(t, filepath.Join(root, "m/keep"), "data")
			wantContent(t, filepath.Join(root, "d/sub/keep"), "data")
			wantMissing(t, filepath.Join(root, "d/a"))
			wantMissing(t, filepath.Join(root, "d/z"))
		})
	}
}

// mustMount runs mount(8) with args and unmounts the last one (the mount
// point) when the test ends.
func mustMount(t *testing.T, args ...string) {
	t.Helper()
	p := args[len(args)-1]
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("cannot mount: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", p).Run() })
}

// TestRmRecursiveGoesOnPastAnImmutableFile: an entry rm -r cannot remove
// (chattr +i) does not stop it: everything else in the tree goes, the
// directories holding the entry stay, and the first error is reported at
// the end, naming the entry, with exit status 1.
func TestRmRecursiveGoesOnPastAnImmutableFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chattr +i needs root")
	}
	root := t.TempDir()
	makeTree(t, root, "file d/a/1", "file d/b/stuck", "file d/b/2", "file d/c/3", "file d/z")
	stuck := filepath.Join(root, "d/b/stuck")
	if out, err := exec.Command("chattr", "+i", stuck).CombinedOutput(); err != nil {
		t.Skipf("chattr +i on the test's filesystem: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", stuck).Run() })
	r := racefree(t, root, nil, "rm", "-r", "d")
	r.expect(t, 1, nil, []string{"racefree: rm: cannot remove d/b/stuck: operation not permitted"})
	if n := strings.Count(r.stderr, "\n"); n != 1 {
		t.Errorf("%d lines on stderr, want the first error only:\n%s", n, r.stderr)
	}
	wantContent(t, stuck, "")
	for _, gone := range []string{"d/a", "d/b/2", "d/c", "d/z"} {
		wantMissing(t, filepath.Join(root, gone))
	}
}
