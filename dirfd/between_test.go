//go:build unix

package dirfd_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/renameat2"
)

// betweenTree is the fixture of the *Between tests: one/ and two/ are the
// two Dirs, outside/ a sibling of both that must never change.
const betweenTree = `
	dir one
	dir one/sub
	file one/f one
	file one/g gee
	symlink one/sym f
	symlink one/esc ../outside
	dir one/d
	dir two
	file two/t two
	symlink two/esc ../outside
	dir outside
	file outside/secret outside
`

func betweenFixture(t *testing.T) (base string, one, two *dirfd.Dir) {
	t.Helper()
	base = t.TempDir()
	buildTree(t, base, betweenTree)
	return base, openDir(t, filepath.Join(base, "one")), openDir(t, filepath.Join(base, "two"))
}

// TestRenameBetween: a name moves from one Dir to the other with each
// name resolved in its own Dir; an escaping name on either side moves
// nothing and changes nothing outside.
func TestRenameBetween(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		flags    renameat2.Flags
		needs    capability.Feature
		wantErr  error
		moved    map[string]string // path after (relative to base) -> path before
	}{
		{name: "file", old: "f", new: "moved", moved: map[string]string{"two/moved": "one/f"}},
		{name: "into a subdirectory of each", old: "sub/../f", new: "new", moved: map[string]string{"two/new": "one/f"}},
		{name: "a final symlink is moved itself", old: "sym", new: "s", moved: map[string]string{"two/s": "one/sym"}},
		{name: "replaces a file", old: "f", new: "t", moved: map[string]string{"two/t": "one/f"}},
		{name: "no-replace refuses an existing name", old: "f", new: "t", flags: renameat2.NoReplace, wantErr: fs.ErrExist},
		{name: "no-replace to a new name", old: "f", new: "n", flags: renameat2.NoReplace, moved: map[string]string{"two/n": "one/f"}},
		{name: "exchange", old: "f", new: "t", flags: renameat2.Exchange, needs: capability.RenameExchange,
			moved: map[string]string{"two/t": "one/f", "one/f": "two/t"}},
		{name: "old name escapes through ..", old: "../outside/secret", new: "x", wantErr: dirfd.ErrEscape},
		{name: "old name escapes through a symlink", old: "esc/secret", new: "x", wantErr: dirfd.ErrEscape},
		{name: "new name escapes through a symlink", old: "f", new: "esc/x", wantErr: dirfd.ErrEscape},
		{name: "new name escapes absolutely", old: "f", new: "/tmp/x", wantErr: dirfd.ErrEscape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needs != "" && !capability.Has(tc.needs) {
				t.Skipf("needs %s", tc.needs)
			}
			base, one, two := betweenFixture(t)
			before := snapshot(t, base)
			err := dirfd.RenameBetween(one, tc.old, two, tc.new, tc.flags)
			var le *os.LinkError
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &le) {
					t.Fatalf("got %v, want an *os.LinkError matching %v", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			want := map[string]entry{}
			for p, e := range before {
				want[p] = e
			}
			for _, was := range tc.moved {
				delete(want, was)
			}
			for after, was := range tc.moved {
				want[after] = before[was]
			}
			if diff := cmp.Diff(want, snapshot(t, base)); diff != "" {
				t.Errorf("tree after RenameBetween (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLinkBetween: a hard link from one Dir into the other, without and
// with atomic replacement, never made from or into outside the Dirs.
func TestLinkBetween(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		replace  bool
		wantErr  error
		same     string // path (relative to base) that must be the same file as old's
	}{
		{name: "link", old: "f", new: "l", same: "two/l"},
		{name: "a final symlink is linked itself", old: "sym", new: "l", same: "two/l"},
		{name: "an existing name is kept", old: "f", new: "t", wantErr: fs.ErrExist},
		{name: "replace", old: "f", new: "t", replace: true, same: "two/t"},
		{name: "replace a new name", old: "g", new: "n", replace: true, same: "two/n"},
		{name: "a directory", old: "d", new: "l", wantErr: syscall.EPERM},
		{name: "a directory named with a slash", old: "d/", new: "l", wantErr: syscall.EPERM},
		{name: "a file named with a slash", old: "f/", new: "l", wantErr: syscall.ENOTDIR},
		{name: "old name escapes", old: "esc/secret", new: "l", wantErr: dirfd.ErrEscape},
		{name: "old name escapes with a slash", old: "esc/", new: "l", wantErr: dirfd.ErrEscape},
		{name: "new name escapes", old: "f", new: "esc/l", wantErr: dirfd.ErrEscape},
		{name: "replace: new name escapes", old: "f", new: "esc/secret", replace: true, wantErr: dirfd.ErrEscape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, one, two := betweenFixture(t)
			link := dirfd.LinkBetween
			if tc.replace {
				link = dirfd.ReplaceLinkBetween
			}
			before := snapshot(t, filepath.Join(base, "outside"))
			err := link(one, tc.old, two, tc.new)
			var le *os.LinkError
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !errors.As(err, &le) {
					t.Fatalf("got %v, want an *os.LinkError matching %v", err, tc.wantErr)
				}
				if _, err := os.Lstat(filepath.Join(base, "two/l")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("two/l exists after a failed link: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tc.same != "" && !sameFile(t, filepath.Join(base, "one", tc.old), filepath.Join(base, tc.same)) {
				t.Errorf("%s is not a link to one/%s", tc.same, tc.old)
			}
			if diff := cmp.Diff(before, snapshot(t, filepath.Join(base, "outside"))); diff != "" {
				t.Errorf("outside changed (-before +after):\n%s", diff)
			}
			if left := stagingLeftovers(t, filepath.Join(base, "two")); len(left) != 0 {
				t.Errorf("staging leftovers in two/: %v", left)
			}
		})
	}
}
