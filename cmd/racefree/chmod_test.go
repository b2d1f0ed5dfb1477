//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreTimes compares snapshots of trees made at different instants.
var ignoreTimes = cmpopts.IgnoreFields(node{}, "Mtime")

// modeTree is a fixture for chmod and chown: directories (one set-group-ID,
// as shared project directories are), plain and executable files, a
// set-user-ID file, symlinks to a file, to a directory and out of the tree.
func modeTree(top string) []string {
	return []string{
		"file " + top + "/f data",
		"file " + top + "/bin/tool #!/bin/sh",
		"mode " + top + "/bin/tool 755",
		"file " + top + "/bin/suid x",
		"mode " + top + "/bin/suid 4755",
		"dir " + top + "/shared/sub",
		"mode " + top + "/shared 2775",
		"file " + top + "/shared/sub/private p",
		"mode " + top + "/shared/sub/private 600",
		"symlink " + top + "/lf f",
		"symlink " + top + "/ld shared",
		"symlink " + top + "/out ../outside/secret",
		"file outside/secret s",
		"mode outside/secret 640",
	}
}

func TestChmod(t *testing.T) {
	for _, tc := range chmodCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

func chmodCases() []cmdCase {
	j := filepath.Join
	wantMode := func(t *testing.T, p string, want os.FileMode) {
		t.Helper()
		if fi, err := os.Lstat(p); err != nil || fi.Mode() != want {
			t.Errorf("%s: mode %v (%v), want %v", p, fi.Mode(), err, want)
		}
	}
	outsideKept := func(t *testing.T, r string) { t.Helper(); wantMode(t, j(r, "outside/secret"), 0o640) }
	return []cmdCase{
		{name: "one file, numeric",
			tree: modeTree("t"), args: []string{"chmod", "600", "t/f"},
			check: func(t *testing.T, r string) { wantMode(t, j(r, "t/f"), 0o600) }},
		{name: "several files, symbolic",
			tree: modeTree("t"), args: []string{"chmod", "u+x,g=u", "t/f", "t/bin/tool"},
			check: func(t *testing.T, r string) {
				wantMode(t, j(r, "t/f"), 0o774)
				wantMode(t, j(r, "t/bin/tool"), 0o775)
			}},
		{name: "a mode starting with a dash",
			tree: modeTree("t"), args: []string{"chmod", "-w", "t/f"},
			check: func(t *testing.T, r string) { wantMode(t, j(r, "t/f"), 0o444) }},
		{name: "a directory alone keeps its contents",
			tree: modeTree("t"), args: []string{"chmod", "go-rwx", "t/shared"},
			check: func(t *testing.T, r string) {
				wantMode(t, j(r, "t/shared"), os.ModeDir|os.ModeSetgid|0o700)
				wantMode(t, j(r, "t/shared/sub"), os.ModeDir|0o755)
			}},
		{name: "-R with X",
			tree: modeTree("t"), args: []string{"chmod", "-R", "g+rwX,o=", "t"},
			check: func(t *testing.T, r string) {
				wantMode(t, j(r, "t/f"), 0o660)
				wantMode(t, j(r, "t/bin/tool"), 0o770)
				wantMode(t, j(r, "t/shared"), os.ModeDir|os.ModeSetgid|0o770)
				wantMode(t, j(r, "t/shared/sub/private"), 0o660)
				outsideKept(t, r)
			}},
		{name: "-R through --root, the operand .",
			tree: modeTree("t"), args: []string{"chmod", "-R", "--root", "t", "o-rwx", "."},
			check: func(t *testing.T, r string) {
				wantMode(t, j(r, "t"), os.ModeDir|0o750)
				wantMode(t, j(r, "t/bin/suid"), os.ModeSetuid|0o750)
				outsideKept(t, r)
			}},
		{name: "a symlink operand is refused, its target kept",
			tree: modeTree("t"), args: []string{"chmod", "777", "t/out"},
			code: 1, stderr: []string{"cannot change the mode of t/out: it is a symlink"},
			check: outsideKept},
		{name: "-R on a symlink leaves its target alone",
			tree: modeTree("t"), args: []string{"chmod", "-R", "777", "t/ld", "t/out"},
			check: func(t *testing.T, r string) {
				wantMode(t, j(r, "t/shared"), os.ModeDir|os.ModeSetgid|0o775)
				outsideKept(t, r)
			}},
		{name: "one missing operand does not stop the others",
			tree: modeTree("t"), args: []string{"chmod", "600", "t/nope", "t/f"},
			code: 1, stderr: []string{"t/nope: no such file or directory"},
			check: func(t *testing.T, r string) { wantMode(t, j(r, "t/f"), 0o600) }},
		{name: "--root refuses an escape",
			tree: modeTree("t"), args: []string{"chmod", "-R", "--root", "t", "777", "out/"},
			code: 1, stderr: []string{"leads out of t (--root), refused"},
			check: outsideKept},

		{name: "an invalid mode", args: []string{"chmod", "u+q", "f"}, code: 2, stderr: []string{"invalid mode u+q"}},
		{name: "no PATH", args: []string{"chmod", "644"}, code: 2, stderr: []string{"want MODE and at least one PATH"}},
		{name: "an unknown flag", args: []string{"chmod", "--bogus", "644", "f"}, code: 2, stderr: []string{"flag provided but not defined"}},
	}
}

// TestChmodTreeMatchesCoreutils runs chmod -R with each mode on two copies
// of one tree, coreutils' on one and racefree's on the other, and compares
// the trees: modes, owners, contents and link targets (times differ
// between the copies from the start; chmod changes none).
func TestChmodTreeMatchesCoreutils(t *testing.T) {
	for _, mode := range []string{"g+rwX,o-rwx", "a+X", "u=rwX,go=rX", "go-w", "700", "+t", "g-s", "ug+s", "o=u-w"} {
		t.Run(mode, func(t *testing.T) {
			root := t.TempDir()
			makeTree(t, root, append(modeTree("ours"), modeTree("theirs")...)...)
			sh := exec.Command("sh", "-c", "umask 022 && chmod -R -- \"$0\" theirs", mode)
			sh.Dir = root
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("coreutils: %v: %s", err, out)
			}
			r := racefreeIO(t, root, nil, nil, "chmod", "-R", mode, "ours")
			r.expect(t, 0, nil, nil)
			if diff := cmp.Diff(snapshot(t, filepath.Join(root, "theirs")), snapshot(t, filepath.Join(root, "ours")), ignoreTimes); diff != "" {
				t.Errorf("racefree chmod -R %s differs from coreutils' (-coreutils +racefree):\n%s", mode, diff)
			}
		})
	}
}
