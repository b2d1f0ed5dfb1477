//go:build unix

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// jailTree is the fixture of the --root tests: jail/ is the root, outside/
// a sibling that no command confined to jail/ may change. ABS is replaced
// by the fixture's absolute path.
func jailTree(abs string) []string {
	return []string{
		"file jail/f data",
		"file jail/sub/g gee",
		"file jail/src/a x",
		"symlink jail/esc ../outside",
		"symlink jail/abs " + abs + "/outside",
		"symlink jail/up ..",
		"symlink jail/rootabs /sub",
		"file outside/secret s",
		"file outside/dir/inner i",
	}
}

// TestRootConfinesEveryCommand: with --root DIR, an operand that leads out
// of DIR through "..", a symlink (relative or absolute) or an absolute
// name fails with an escape error (exit status 1) and nothing outside DIR
// changes. Each case's naive control does the same by path with coreutils
// and must change something outside, or the check proves nothing.
func TestRootConfinesEveryCommand(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string // after the command name and --root jail
		stdin string
		naive string // the same by path, run with sh -c in the fixture ("": caps, which changes nothing)
		// made is a name inside jail/ that the escape must not create
		// (a hard link to an outside file changes nothing outside).
		made string
	}{
		{name: "rm through a symlink", args: []string{"rm", "esc/secret"}, naive: "rm jail/esc/secret"},
		{name: "rm through ..", args: []string{"rm", "../outside/secret"}, naive: "rm jail/../outside/secret"},
		{name: "rm through a symlink to ..", args: []string{"rm", "up/outside/secret"}, naive: "rm jail/up/outside/secret"},
		{name: "rm through an absolute symlink", args: []string{"rm", "abs/secret"}, naive: "rm jail/abs/secret"},
		{name: "rm of an absolute name", args: []string{"rm", "ABS/outside/secret"}, naive: "rm ABS/outside/secret"},
		{name: "rm -r through a symlink", args: []string{"rm", "-r", "esc/dir"}, naive: "rm -r jail/esc/dir"},
		{name: "mv out", args: []string{"mv", "f", "esc/f"}, naive: "mv jail/f jail/esc/f"},
		{name: "mv into a directory outside", args: []string{"mv", "f", "esc"}, naive: "mv jail/f jail/esc"},
		{name: "mv in", args: []string{"mv", "esc/secret", "stolen"}, naive: "mv jail/esc/secret jail/stolen"},
		{name: "mv --exchange", args: []string{"mv", "--exchange", "f", "esc/secret"}, naive: "rm jail/esc/secret"},
		{name: "ln -s out", args: []string{"ln", "-s", "x", "esc/l"}, naive: "ln -s x jail/esc/l"},
		{name: "ln -sf over an outside file", args: []string{"ln", "-sf", "x", "abs/secret"}, naive: "ln -sf x jail/abs/secret"},
		{name: "ln -s into a directory outside", args: []string{"ln", "-s", "x", "up/outside"}, naive: "ln -s x jail/up/outside"},
		{name: "ln of an outside file", args: []string{"ln", "esc/secret", "hl"}, naive: "ln jail/esc/secret jail/hl", made: "hl"},
		{name: "ln -f over an outside file", args: []string{"ln", "-f", "f", "esc/secret"}, naive: "ln -f jail/f jail/esc/secret"},
		{name: "write through a symlinked directory", args: []string{"write", "esc/secret"}, stdin: "pwned", naive: "cat > jail/esc/secret"},
		{name: "write through ..", args: []string{"write", "../outside/new"}, stdin: "pwned", naive: "cat > jail/../outside/new"},
		{name: "install out", args: []string{"install", "src", "esc/new"}, naive: "cp -a jail/src jail/esc/new"},
		{name: "install from outside", args: []string{"install", "esc/dir", "copy"}, naive: "rm -r jail/esc/dir", made: "copy"},
		{name: "caps of a directory outside", args: []string{"caps", "esc"}},
		{name: "cp out", args: []string{"cp", "-a", "f", "esc/f"}, naive: "cp -a jail/f jail/esc/f"},
		{name: "cp into a directory outside", args: []string{"cp", "-a", "f", "up/outside"}, naive: "cp -a jail/f jail/up/outside"},
		{name: "cp from outside", args: []string{"cp", "-a", "abs/secret", "stolen"}, naive: "cp -a jail/abs/secret jail/stolen", made: "stolen"},
		{name: "chmod -R through a symlinked directory", args: []string{"chmod", "-R", "777", "esc/"}, naive: "chmod -R 777 jail/esc/"},
		{name: "chmod through ..", args: []string{"chmod", "777", "../outside/secret"}, naive: "chmod 777 jail/../outside/secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			makeTree(t, base, jailTree(base)...)
			outside := filepath.Join(base, "outside")
			before := snapshot(t, outside)
			args := append([]string{tc.args[0], "--root", "jail"}, tc.args[1:]...)
			for i, a := range args {
				args[i] = strings.ReplaceAll(a, "ABS", base)
			}
			r := racefreeIO(t, base, nil, strings.NewReader(tc.stdin), args...)
			r.expect(t, 1, nil, []string{"racefree: " + tc.args[0] + ": ", "leads out of jail (--root), refused"})
			if diff := cmp.Diff(before, snapshot(t, outside)); diff != "" {
				t.Errorf("outside changed (-before +after):\n%s", diff)
			}
			if tc.made != "" {
				wantMissing(t, filepath.Join(base, "jail", tc.made))
			}

			if tc.naive == "" {
				return
			}
			// The naive control, on a fresh copy of the fixture.
			naiveBase := t.TempDir()
			makeTree(t, naiveBase, jailTree(naiveBase)...)
			naiveBefore := snapshot(t, naiveBase)
			sh := exec.Command("sh", "-c", strings.ReplaceAll(tc.naive, "ABS", naiveBase))
			sh.Dir, sh.Stdin = naiveBase, strings.NewReader(tc.stdin)
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("naive control %q: %v: %s", tc.naive, err, out)
			}
			if cmp.Equal(naiveBefore, snapshot(t, naiveBase)) {
				t.Errorf("naive control %q changed nothing: the check cannot catch an escape", tc.naive)
			}
		})
	}
}

// TestInRootKeepsEveryOperandInside: with --in-root DIR, operands are
// resolved as if DIR were /: "..", absolute names and absolute symlinks
// stay inside, and the commands act there.
func TestInRootKeepsEveryOperandInside(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string // after the command name and --in-root jail
		stdin string
		check func(t *testing.T, jail string)
	}{
		{name: "rm of an absolute name", args: []string{"rm", "/f"},
			check: func(t *testing.T, j string) { wantMissing(t, filepath.Join(j, "f")) }},
		{name: "rm through .. at the top", args: []string{"rm", "../../sub/g"},
			check: func(t *testing.T, j string) { wantMissing(t, filepath.Join(j, "sub/g")) }},
		{name: "rm through an absolute symlink", args: []string{"rm", "rootabs/g"},
			check: func(t *testing.T, j string) { wantMissing(t, filepath.Join(j, "sub/g")) }},
		{name: "write to an absolute name", args: []string{"write", "/sub/new"}, stdin: "in",
			check: func(t *testing.T, j string) { wantContent(t, filepath.Join(j, "sub/new"), "in") }},
		{name: "mv between absolute names", args: []string{"mv", "/f", "../sub/f2"},
			check: func(t *testing.T, j string) { wantContent(t, filepath.Join(j, "sub/f2"), "data") }},
		{name: "ln -s into a directory named absolutely", args: []string{"ln", "-s", "/etc/passwd", "/sub"},
			check: func(t *testing.T, j string) { wantLink(t, filepath.Join(j, "sub/passwd"), "/etc/passwd") }},
		{name: "ln of a file named absolutely", args: []string{"ln", "/f", "/sub/hl"},
			check: func(t *testing.T, j string) { wantSameFile(t, filepath.Join(j, "f"), filepath.Join(j, "sub/hl")) }},
		{name: "cp between absolute names", args: []string{"cp", "-a", "/src", "/up/../copy"},
			check: func(t *testing.T, j string) { wantContent(t, filepath.Join(j, "copy/a"), "x") }},
		{name: "chmod through an absolute symlink", args: []string{"chmod", "600", "/rootabs/g"},
			check: func(t *testing.T, j string) {
				if fi, err := os.Lstat(filepath.Join(j, "sub/g")); err != nil || fi.Mode() != 0o600 {
					t.Errorf("sub/g: %v, %v; want mode 0600", fi, err)
				}
			}},
		{name: "install at an absolute name", args: []string{"install", "/src", "/up/copy"},
			check: func(t *testing.T, j string) { wantContent(t, filepath.Join(j, "copy/a"), "x") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			makeTree(t, base, jailTree(base)...)
			outside := filepath.Join(base, "outside")
			before := snapshot(t, outside)
			args := append([]string{tc.args[0], "--in-root", "jail"}, tc.args[1:]...)
			r := racefreeIO(t, base, nil, strings.NewReader(tc.stdin), args...)
			r.expect(t, 0, nil, nil)
			tc.check(t, filepath.Join(base, "jail"))
			if diff := cmp.Diff(before, snapshot(t, outside)); diff != "" {
				t.Errorf("outside changed (-before +after):\n%s", diff)
			}
		})
	}
}

// TestRootUsage: the two root flags exclude each other, and a root that
// cannot be opened is the operation's failure.
func TestRootUsage(t *testing.T) {
	dir := t.TempDir()
	makeTree(t, dir, "file f")
	for cmd, operands := range map[string][]string{
		"ln": {"x", "y"}, "mv": {"x", "y"}, "rm": {"y"}, "write": {"y"}, "install": {"x", "y"}, "caps": {"y"}, "resolve": {"y"},
		"chown": {"0", "y"}, "chmod": {"644", "y"}, "cp": {"-a", "x", "y"},
	} {
		r := racefree(t, dir, nil, append([]string{cmd, "--root", ".", "--in-root", "."}, operands...)...)
		r.expect(t, 2, nil, []string{"racefree: " + cmd + ": --root and --in-root exclude each other"})
		r = racefree(t, dir, nil, append([]string{cmd, "--root", "nope"}, operands...)...)
		r.expect(t, 1, nil, []string{"racefree: " + cmd + ": nope: no such file or directory"})
		r = racefree(t, dir, nil, append([]string{cmd, "--in-root", "f"}, operands...)...)
		r.expect(t, 1, nil, []string{"racefree: " + cmd + ": f: not a directory"})
		// An empty DIR (a script's unset variable) is never "no root".
		r = racefree(t, dir, nil, append([]string{cmd, "--root", ""}, operands...)...)
		r.expect(t, 2, nil, []string{`racefree: ` + cmd + `: invalid value "" for flag -root: empty DIR`})
	}
	if _, err := os.Lstat(filepath.Join(dir, "y")); err == nil {
		t.Error("a command with a bad root made y")
	}
}
