//go:build unix

package dirfd

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestFollowSlashNeverHandsTheKernelASlash pins how Dir's entry calls treat
// a name ending in "/" on the systems whose kernels follow a final symlink
// for it (the BSDs, macOS; see followSlash), on any system: the call gets
// a plain name, a symlink is followed inside the tree, and one that leaves
// it is an escape, never handed to the kernel to follow out.
func TestFollowSlashNeverHandsTheKernelASlash(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "in")
	for _, step := range []error{
		os.MkdirAll(filepath.Join(root, "sub", "d"), 0o755),
		os.Mkdir(filepath.Join(parent, "outside"), 0o755),
		os.WriteFile(filepath.Join(root, "f"), nil, 0o644),
		os.Symlink("sub/d", filepath.Join(root, "ld")),
		os.Symlink("f", filepath.Join(root, "lf")),
		os.Symlink("../ld", filepath.Join(root, "sub", "up")),
		os.Symlink("../outside", filepath.Join(root, "esc")),
		os.Symlink("/sub", filepath.Join(root, "abs")),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	ino := func(p string) uint64 {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	for _, tc := range []struct {
		name, inRoot string // inRoot: the option; "" for Beneath
		parent, last string // what the call must get: its directory (relative to root) and name
		err          error
	}{
		{name: "sub/d/", parent: "sub", last: "d"},
		{name: "sub//d//", parent: "sub", last: "d"},
		{name: "ld/", parent: "sub", last: "d"},
		{name: "sub/up/", parent: "sub", last: "d"},
		{name: "new/", parent: ".", last: "new"},
		{name: "f/", err: syscall.ENOTDIR},
		{name: "lf/", err: syscall.ENOTDIR},
		{name: "esc/", err: ErrEscape},
		{name: "abs/", err: ErrEscape},
		{name: "abs/", inRoot: "yes", parent: ".", last: "sub"},
		{name: "esc/", inRoot: "yes", parent: ".", last: "outside"},
		{name: "f", parent: ".", last: "f"},
	} {
		var opts []Option
		if tc.inRoot != "" {
			opts = append(opts, InRoot())
		}
		d, err := Open(root, opts...)
		if err != nil {
			t.Fatal(err)
		}
		var gotParent uint64
		gotLast := "(not called)"
		err = d.followSlash(tc.name, func(parent int, last string) error {
			var st unix.Stat_t
			if err := unix.Fstat(parent, &st); err != nil {
				return err
			}
			gotParent, gotLast = st.Ino, last
			return nil
		})
		d.Close()
		switch {
		case tc.err != nil:
			if !errors.Is(err, tc.err) || gotLast != "(not called)" {
				t.Errorf("followSlash(%q) = %v, handed %q; want %v and nothing handed", tc.name, err, gotLast, tc.err)
			}
		case err != nil || gotLast != tc.last || gotParent != ino(filepath.Join(root, tc.parent)):
			t.Errorf("followSlash(%q) = %v, handed %q in inode %d; want %q in %s", tc.name, err, gotLast, gotParent, tc.last, tc.parent)
		}
	}
}
