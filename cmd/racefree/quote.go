package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// quote is how the tool prints every name and link target it did not make
// up itself: on standard output (resolve) and in every message. A name is
// chosen by whoever made the file, and a file name may hold any byte but
// '/' and NUL: a newline, a carriage return or an escape sequence in it
// would otherwise start a line of its own ("follows: ok"), overwrite what
// was printed or recolour the terminal, and a bidi override would reorder
// what the reader sees.
//
// A name made only of printable characters, without '"' or '\', is printed
// as it is, so ordinary names read as they do in ls. Anything else is
// printed as a Go string literal ("a\nb", "\x1b[2J", "\u202e"), in which
// every control, invisible or invalid byte is spelled out and no quote or
// backslash stands for itself. A plain name never holds '"', so a quoted
// name cannot pass for a plain one, and a plain one cannot pass for a
// quoted one.
func quote(s string) string {
	if !printable(s) || strings.ContainsAny(s, `"\`) {
		return strconv.Quote(s)
	}
	return s
}

// printable reports whether s is valid UTF-8 made only of printable
// characters (space included): text that can reach a terminal as it is.
func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}
