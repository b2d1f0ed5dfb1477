//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestCp(t *testing.T) {
	for _, tc := range cpCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

func cpCases() []cmdCase {
	j := filepath.Join
	sameTree := func(dst, src string) func(t *testing.T, r string) {
		return func(t *testing.T, r string) { t.Helper(); wantSameTree(t, j(r, dst), j(r, src)) }
	}
	return []cmdCase{
		{name: "a tree to a new name", tree: sourceTree("src"), args: []string{"cp", "-a", "src", "dst"}, check: sameTree("dst", "src")},
		{name: "a file to a new name", tree: []string{"file f data", "mode f 640", "mtime f 1000000000"}, args: []string{"cp", "-a", "f", "g"},
			check: func(t *testing.T, r string) { wantSameTree(t, j(r, "g"), j(r, "f")) }},
		{name: "a symlink is copied as a link", tree: []string{"symlink l /etc/passwd"}, args: []string{"cp", "-a", "l", "m"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "m"), "/etc/passwd") }},
		{name: "into a directory", tree: append(sourceTree("src"), "dir d"), args: []string{"cp", "-a", "src", "d"}, check: sameTree("d/src", "src")},
		{name: "several into a directory", tree: []string{"file a x", "dir b/c", "dir d"}, args: []string{"cp", "--archive", "a", "b", "d/"},
			check: func(t *testing.T, r string) {
				wantContent(t, j(r, "d/a"), "x")
				wantSameTree(t, j(r, "d/b"), j(r, "b"))
			}},
		{name: "a directory named by position", tree: []string{"file s/a x"}, args: []string{"cp", "-a", "s/.", "t"},
			check: func(t *testing.T, r string) { wantSameTree(t, j(r, "t"), j(r, "s")) }},
		{name: "never over an existing file", tree: []string{"file a new", "file b old"}, args: []string{"cp", "-a", "a", "b"},
			code: 1, stderr: []string{"b: exists; racefree cp never replaces anything"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "b"), "old") }},
		{name: "a missing source", args: []string{"cp", "-a", "nope", "x"},
			code: 1, stderr: []string{"cannot copy nope to x: no such file or directory"}},
		{name: "into itself", tree: []string{"dir s/sub"}, args: []string{"cp", "-a", "s", "s/sub/x"},
			code: 1, stderr: []string{"cannot copy s to s/sub/x: cannot copy a directory into itself"}},
		{name: "several need a directory", tree: []string{"file a", "file b", "file c"}, args: []string{"cp", "-a", "a", "b", "c"},
			code: 1, stderr: []string{"c: not a directory"}},

		{name: "without -a", args: []string{"cp", "a", "b"}, code: 2, stderr: []string{"give -a"}},
		{name: "one operand", args: []string{"cp", "-a", "a"}, code: 2, stderr: []string{"want SRC and DST"}},
	}
}

// TestCpRefusesSpecialFiles: a FIFO in the source fails the copy, naming
// it, unless --special is given.
func TestCpRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, "file src/a x", "dir src/d")
	if err := unix.Mkfifo(filepath.Join(root, "src/d/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := racefree(t, root, nil, "cp", "-a", "src", "dst")
	r.expect(t, 1, nil, []string{"racefree: cp: cannot copy src to dst (at src/d/fifo): is a FIFO"})
	r = racefree(t, root, nil, "cp", "-a", "--special", "src", "dst2")
	r.expect(t, 0, nil, nil)
	if fi, err := os.Lstat(filepath.Join(root, "dst2/d/fifo")); err != nil || fi.Mode().Type() != os.ModeNamedPipe {
		t.Errorf("dst2/d/fifo: %v, %v; want a FIFO", fi, err)
	}
}

// TestCpMatchesCoreutils copies one tree with coreutils' cp -a and with
// racefree cp -a and compares the copies: modes with set-ID bits, owners
// (as root), contents, link targets, hard links and times in ns.
func TestCpMatchesCoreutils(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, sourceTree("src")...)
	cp := exec.Command("cp", "-a", "src", "theirs")
	cp.Dir = root
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("coreutils: %v: %s", err, out)
	}
	racefree(t, root, nil, "cp", "-a", "src", "ours").expect(t, 0, nil, nil)
	if diff := cmp.Diff(snapshot(t, filepath.Join(root, "theirs")), snapshot(t, filepath.Join(root, "ours"))); diff != "" {
		t.Errorf("racefree cp -a differs from coreutils' (-coreutils +racefree):\n%s", diff)
	}
}
