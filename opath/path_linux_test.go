package opath_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestHandlePathJudgesDeletionByLinkCount: whether an object has a name
// is decided by its link count, not by the " (deleted)" the kernel appends,
// which an attacker can put in a file's name to make Path (and `racefree
// resolve`) fail on it.
func TestHandlePathJudgesDeletionByLinkCount(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, tmp string) // after the handle is open on "x (deleted)"
		want    string                         // the path expected, relative to tmp; "" for an error
	}{
		{"a file named as if deleted", func(*testing.T, string) {}, "x (deleted)"},
		{"the file removed", func(t *testing.T, tmp string) {
			hMust(t, os.Remove(filepath.Join(tmp, "x (deleted)")))
		}, ""},
		{"the name removed, another link left", func(t *testing.T, tmp string) {
			hMust(t, os.Link(filepath.Join(tmp, "x (deleted)"), filepath.Join(tmp, "other")))
			hMust(t, os.Remove(filepath.Join(tmp, "x (deleted)")))
		}, ""},
		{"the name removed, and one that looks like the kernel's mark made", func(t *testing.T, tmp string) {
			hMust(t, os.Link(filepath.Join(tmp, "x (deleted)"), filepath.Join(tmp, "other")))
			hMust(t, os.Remove(filepath.Join(tmp, "x (deleted)")))
			hMust(t, os.WriteFile(filepath.Join(tmp, "x (deleted) (deleted)"), nil, 0o644))
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, d := hTree(t)
			hMust(t, os.WriteFile(filepath.Join(tmp, "x (deleted)"), []byte("x"), 0o644))
			h := hOpen(t, d, "x (deleted)")
			tc.prepare(t, tmp)
			p, err := h.Path()
			switch {
			case tc.want == "" && err == nil:
				t.Errorf("Path() = %q, want an error: the object has no name", p)
			case tc.want != "" && (err != nil || p != filepath.Join(tmp, tc.want)):
				t.Errorf("Path() = %q, %v; want %q", p, err, filepath.Join(tmp, tc.want))
			}
		})
	}
}
