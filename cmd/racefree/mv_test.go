package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/racefree/racefree/capability"
)

func TestMv(t *testing.T) {
	for _, tc := range mvCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

func mvCases() []cmdCase {
	j := filepath.Join
	return []cmdCase{
		{name: "rename",
			tree: []string{"file a data"}, args: []string{"mv", "a", "b"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "a")); wantContent(t, j(r, "b"), "data") }},
		{name: "replace a file",
			tree: []string{"file a new", "file b old"}, args: []string{"mv", "a", "b"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "a")); wantContent(t, j(r, "b"), "new") }},
		{name: "across directories",
			tree: []string{"dir x", "dir y/z", "file x/a data"}, args: []string{"mv", "x/a", "y/z/b"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "x/a")); wantContent(t, j(r, "y/z/b"), "data") }},
		{name: "into a directory",
			tree: []string{"dir d", "file x/a data"}, args: []string{"mv", "x/a", "d"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "d/a"), "data") }},
		{name: "into a directory given with a slash",
			tree: []string{"dir d", "file a data"}, args: []string{"mv", "a", "d/"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "d/a"), "data") }},
		{name: "a directory into a directory",
			tree: []string{"dir d", "file s/f data"}, args: []string{"mv", "s/", "d"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "d/s/f"), "data") }},
		{name: "a symlink is moved itself",
			tree: []string{"dir d", "symlink l d"}, args: []string{"mv", "l", "m"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "m"), "d"); wantMissing(t, j(r, "l")) }},
		{name: "a trailing slash on a file",
			tree: []string{"file a"}, args: []string{"mv", "a/", "b"},
			code: 1, stderr: []string{"a/: not a directory"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "a"), "") }},
		{name: "a file to a new name ending in /",
			tree: []string{"file a"}, args: []string{"mv", "a", "b/"},
			code: 1, stderr: []string{"b/: not a directory"}},
		{name: "a directory into itself",
			tree: []string{"dir d"}, args: []string{"mv", "d", "d/e"},
			code: 1, stderr: []string{"cannot move d to d/e"}},
		{name: "missing source",
			args: []string{"mv", "a", "b"}, code: 1, stderr: []string{"cannot move a to b: no such file or directory"}},
		{name: "dot",
			args: []string{"mv", ".", "b"}, code: 1, stderr: []string{".: names a directory"}},

		{name: "no-clobber to a new name",
			tree: []string{"file a data"}, args: []string{"mv", "-n", "a", "b"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "b"), "data") }},
		{name: "no-clobber keeps an existing name",
			tree: []string{"file a new", "file b old"}, args: []string{"mv", "--no-clobber", "a", "b"},
			code: 1, stderr: []string{"b: exists, not replaced (--no-clobber)"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "a"), "new"); wantContent(t, j(r, "b"), "old") }},
		{name: "no-clobber into a directory",
			tree: []string{"file a new", "file d/a old"}, args: []string{"mv", "-n", "a", "d"},
			code: 1, stderr: []string{"d/a: exists"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "d/a"), "old") }},

		{name: "exchange", needs: capability.RenameExchange,
			tree: []string{"file a A", "dir b", "file b/f B"}, args: []string{"mv", "--exchange", "a", "b"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "b"), "A"); wantContent(t, j(r, "a/f"), "B") }},
		{name: "exchange across directories", needs: capability.RenameExchange,
			tree: []string{"file x/a A", "file y/b B"}, args: []string{"mv", "x/a", "y/b", "--exchange"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "x/a"), "B"); wantContent(t, j(r, "y/b"), "A") }},
		{name: "exchange needs both names", needs: capability.RenameExchange,
			tree: []string{"file a A"}, args: []string{"mv", "--exchange", "a", "b"},
			code: 1, stderr: []string{"cannot exchange a and b: both must exist"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "a"), "A") }},

		{name: "one operand", args: []string{"mv", "a"}, code: 2, stderr: []string{"want SRC and DST"}},
		{name: "three operands", args: []string{"mv", "a", "b", "c"}, code: 2, stderr: []string{"want SRC and DST"}},
		{name: "exchange and no-clobber", args: []string{"mv", "-n", "--exchange", "a", "b"}, code: 2, stderr: []string{"exclude each other"}},
		{name: "empty operand", args: []string{"mv", "a", ""}, code: 2, stderr: []string{"empty operand"}},
	}
}

// TestMvFallbacks runs the flags with the kernel primitives disabled: an
// exchange is never emulated, a no-clobber move of a file is (link, then
// unlink).
func TestMvFallbacks(t *testing.T) {
	j := filepath.Join
	cmdCase{name: "exchange without rename_exchange",
		tree: []string{"file a A", "file b B"}, args: []string{"mv", "--exchange", "a", "b"},
		code: 1, stderr: []string{"cannot exchange a and b: this filesystem cannot swap names atomically"},
		check: func(t *testing.T, r string) { wantContent(t, j(r, "a"), "A"); wantContent(t, j(r, "b"), "B") },
	}.run(t, string(capability.RenameExchange))
	cmdCase{name: "no-clobber without rename_noreplace",
		tree: []string{"file a A", "file b B", "file c C"}, args: []string{"mv", "-n", "a", "b"},
		code: 1, stderr: []string{"b: exists, not replaced"},
		check: func(t *testing.T, r string) { wantContent(t, j(r, "a"), "A"); wantContent(t, j(r, "b"), "B") },
	}.run(t, string(capability.RenameNoReplace))
	cmdCase{name: "no-clobber without rename_noreplace, to a new name",
		tree: []string{"file a A"}, args: []string{"mv", "-n", "a", "b"},
		check: func(t *testing.T, r string) { wantMissing(t, j(r, "a")); wantContent(t, j(r, "b"), "A") },
	}.run(t, string(capability.RenameNoReplace))
}

// TestMvExchangeAcrossFilesystems mounts a tmpfs: an exchange between two
// filesystems fails with a message that says so, and nothing moves.
func TestMvExchangeAcrossFilesystems(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if !capability.Has(capability.RenameExchange) {
		t.Skip("needs rename_exchange")
	}
	root := t.TempDir()
	makeTree(t, root, "dir m", "file a A")
	mnt := filepath.Join(root, "m")
	if out, err := exec.Command("mount", "-t", "tmpfs", "racefree-test", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	makeTree(t, root, "file m/b B")

	r := racefree(t, root, nil, "mv", "--exchange", "a", "m/b")
	r.expect(t, 1, nil, []string{"racefree: mv: cannot exchange a and m/b: they are on different filesystems"})
	wantContent(t, filepath.Join(root, "a"), "A")
	wantContent(t, filepath.Join(mnt, "b"), "B")

	r = racefree(t, root, nil, "mv", "a", "m/b")
	r.expect(t, 1, nil, []string{"racefree: mv: cannot move a to m/b: they are on different filesystems"})
}
