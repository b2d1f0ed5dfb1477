package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestQuoteDefusesHostileNames pins what a name chosen by an attacker can
// do to the tool's output: nothing. Each hostile name comes out on one
// line, free of control characters, and reads back (strconv.Unquote) as
// the very name, so a user can still tell which file it was.
func TestQuoteDefusesHostileNames(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		plain    bool // printed as it is
	}{
		{"ordinary name", "etc/passwd", true},
		{"spaces and punctuation", "my file (1)-[x].txt", true},
		{"non-ASCII letters", "Größe/日本", true},
		{"forged line", "x\nfollows: ok", false},
		{"carriage return overwrites the line", "x\rracefree: ok", false},
		{"terminal escape", "\x1b[2J\x1b[31mred", false},
		{"bell and backspace", "a\a\bb", false},
		{"DEL", "a\x7f", false},
		{"C1 control (CSI)", "a\u009b2J", false},
		{"bidi override", "evil\u202etxt.exe", false},
		{"zero-width joiner", "a\u200db", false},
		{"line separator", "a\u2028b", false},
		{"invalid UTF-8", "a\xff\xfeb", false},
		{"a quote that could fake a quoted name", `"x\n"`, false},
		{"a backslash", `a\nb`, false},
		{"tab", "a\tb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := quote(tc.in)
			if plain := got == tc.in; plain != tc.plain {
				t.Errorf("quote(%q) = %s: printed as it is %v, want %v", tc.in, got, plain, tc.plain)
			}
			for _, r := range got {
				if r != ' ' && (unicode.IsControl(r) || !unicode.IsPrint(r)) {
					t.Errorf("quote(%q) = %q holds %U", tc.in, got, r)
				}
			}
			if tc.plain {
				return
			}
			if back, err := strconv.Unquote(got); err != nil || back != tc.in {
				t.Errorf("quote(%q) = %s reads back as %q (%v)", tc.in, got, back, err)
			}
			if !strings.HasPrefix(got, `"`) {
				t.Errorf("quote(%q) = %s: a quoted name must start with a quote", tc.in, got)
			}
		})
	}
}

// hostileNames are file names an attacker could choose to forge or hide
// the tool's output.
var hostileNames = []string{
	"x\nracefree: rm: removed everything, all fine",
	"\x1b[2J\x1b[1;1Hclean",
	"a\rracefree: ok",
	"evil\u202etxt.exe",
	"tab\there",
}

// forgery says what is wrong with out, the tool's output, if any line is
// not one it could have written itself: there must be as many lines as it
// wrote, each starting with one of prefixes and holding nothing but
// printable characters.
func forgery(out string, lines int, prefixes ...string) string {
	if n := strings.Count(out, "\n"); n != lines {
		return fmt.Sprintf("%d lines, the tool wrote %d", n, lines)
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(out, "\n"), "\n") {
		ok := false
		for _, p := range prefixes {
			ok = ok || strings.HasPrefix(line, p)
		}
		if !ok {
			return fmt.Sprintf("a line the tool did not write: %q", line)
		}
		for _, r := range line {
			if r != ' ' && !unicode.IsPrint(r) {
				return fmt.Sprintf("%U in line %q", r, line)
			}
		}
	}
	return ""
}

// TestForgeryCatchesNaiveOutput: the check of the next test must catch a
// hostile name printed as it is, or it proves nothing.
func TestForgeryCatchesNaiveOutput(t *testing.T) {
	for _, name := range hostileNames {
		naive := fmt.Sprintf("racefree: rm: cannot remove %s: no such file or directory\n", name)
		if forgery(naive, 1, "racefree: ") == "" {
			t.Errorf("a hostile name printed as it is passes the check: %q", naive)
		}
		if got := forgery(fmt.Sprintf("racefree: rm: cannot remove %s: no such file or directory\n", quote(name)), 1, "racefree: "); got != "" {
			t.Errorf("the quoted name fails the check: %s", got)
		}
	}
}

// TestHostileNamesCannotForgeOutput runs every command so that it must
// name a file an attacker named, in an error or (resolve) on standard
// output, and checks that each line is one the tool wrote: a newline, a
// carriage return or an escape sequence in a name or a link target shows
// up escaped, never as the start of a line or a terminal command.
func TestHostileNamesCannotForgeOutput(t *testing.T) {
	for i, name := range hostileNames {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(dir, "d", name), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("t\n"+name+"\nfollows: ok", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			missing := "no/" + name
			for _, args := range [][]string{
				{"rm", missing},
				{"rm", "d/" + name},
				{"rm", "-r", "--root", "d", "../" + name},
				{"mv", missing, "y"},
				{"mv", "d/" + name, missing},
				{"ln", "-sT", "t", "d/" + name},
				{"ln", "-s", "t", "x", "d/" + name + "/x"},
				{"ln", "d/" + name, "y"},
				{"write", "d/" + name},
				{"write", missing},
				{"caps", missing},
				{"install", missing, "y"},
				{"install", "d", missing},
				{"resolve", missing},
				{"resolve", "--root", missing, "x"},
				{"chmod", "-R", "u+x", missing},
				{"chmod", "600", "d/" + name + "/nope"},
				{"chown", "-R", "0", missing},
				{"cp", "-a", missing, "y"},
				{"cp", "-a", "d", "d/" + name},
				{"chmod", name, "d"},
				{"rm", "-" + name},
			} {
				r := racefree(t, dir, nil, args...)
				if r.code == 0 {
					t.Errorf("%q succeeded", args)
				}
				lines := 1
				if r.code == exitUsage {
					lines = 2 // and the usage line
				}
				if bad := forgery(r.stderr, lines, "racefree: ", "usage: "); bad != "" {
					t.Errorf("%q: %s\nstderr: %q", args, bad, r.stderr)
				}
			}
			r := racefree(t, dir, nil, "resolve", "link")
			if bad := forgery(r.stdout, 6, "root:", "path:", "lands:", "type:", "target:", "follows:"); bad != "" {
				t.Errorf("resolve link: %s\nstdout: %q", bad, r.stdout)
			}
			if strings.Contains(r.stdout, "\nfollows: ok") || !strings.Contains(r.stdout, "follows: refused") {
				t.Errorf("resolve link: a forged line:\n%s", r.stdout)
			}
		})
	}
}
