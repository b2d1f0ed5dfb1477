package mountid

import (
	"bufio"
	"strings"
	"testing"
)

// TestParseFdinfo reads the mnt_id line, refuses a file without one, and
// refuses a malformed number rather than guess.
func TestParseFdinfo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"pos:\t0\nflags:\t02100000\nmnt_id:\t27\nino:\t1234\n", ID{kindMount, 27}, true},
		{"mnt_id: 4294967296\n", ID{kindMount, 1 << 32}, true},
		{"pos:\t0\nflags:\t0\n", ID{}, false},
		{"mnt_id:\tx27\n", ID{}, false},
	} {
		got, err := parseFdinfo(bufio.NewScanner(strings.NewReader(tc.in)))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseFdinfo(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
