package main

import (
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
