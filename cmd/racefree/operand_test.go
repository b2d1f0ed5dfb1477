package main

import (
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/fallback"
)

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		arg    string
		want   entry
		isName bool
	}{
		{"f", entry{parent: ".", name: "f"}, true},
		{"a/b/f", entry{parent: "a/b", name: "f"}, true},
		{"a//f//", entry{parent: "a", name: "f", slash: true}, true},
		{"/f", entry{parent: "/", name: "f"}, true},
		{"//f", entry{parent: "/", name: "f"}, true},
		{"/", entry{parent: ".", name: "", slash: true}, false},
		{".", entry{parent: ".", name: "."}, false},
		{"a/..", entry{parent: "a", name: ".."}, false},
		{"../f", entry{parent: "..", name: "f"}, true},
	} {
		tc.want.arg = tc.arg
		got := parseEntry(tc.arg)
		if got != tc.want || got.isEntry() != tc.isName {
			t.Errorf("parseEntry(%q) = %+v (entry %v), want %+v (entry %v)", tc.arg, got, got.isEntry(), tc.want, tc.isName)
		}
	}
}

func TestExplain(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "openat", Path: "x", Err: syscall.ENOENT}, "no such file or directory"},
		{&os.LinkError{Op: "renameat", Old: "a", New: "b", Err: syscall.EXDEV}, "invalid cross-device link"},
		{&fs.PathError{Op: "openat", Path: "x", Err: dirfd.ErrEscape}, "escapes from the directory"},
		{&fs.PathError{Op: "removeat", Path: "x", Err: fmt.Errorf("verified: %w", fallback.ErrChanged)}, "nothing was done to that object"},
		{&fs.PathError{Op: "removeat", Path: "x", Err: &fallback.ConflictError{Name: ".racefree-conflict-1", Err: fallback.ErrChanged}},
			"nothing was done to that object; that object is now at .racefree-conflict-1"},
	} {
		if got := explain(tc.err); !strings.Contains(got, tc.want) {
			t.Errorf("explain(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
}
