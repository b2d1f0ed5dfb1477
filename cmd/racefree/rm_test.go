package main

import (
	"os"
	"os/exec"
	"path/filepath"
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
// filesystem it is given nor one it meets below.
func TestRmRecursiveStopsAtMountPoints(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	root := t.TempDir()
	makeTree(t, root, "dir m", "dir d/sub")
	for _, mnt := range []string{"m", "d/sub"} {
		p := filepath.Join(root, mnt)
		if out, err := exec.Command("mount", "-t", "tmpfs", "racefree-test", p).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", p).Run() })
		makeTree(t, root, "file "+mnt+"/keep data")
	}
	r := racefree(t, root, nil, "rm", "-r", "m", "d")
	r.expect(t, 1, nil, []string{"racefree: rm: m: is a mount point", "racefree: rm: cannot remove d: it contains a mount point"})
	wantContent(t, filepath.Join(root, "m/keep"), "data")
	wantContent(t, filepath.Join(root, "d/sub/keep"), "data")
}
