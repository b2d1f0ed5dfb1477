//go:build unix

package dirfd_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/dirfd"
)

// entryTree is the fixture of the tests of what extraction needs: every
// kind of object an archive entry may find at its name, and a sentinel
// outside the Dir that a write through a symlink would change.
const entryTree = `
	dir root
	file root/file old
	symlink root/sym ../outside/secret
	symlink root/insym file
	dir root/dir
	file root/dir/keep kept
	dir outside
	file outside/secret outside
`

// TestReplaceFileNeverFollows pins ReplaceFile's contract: whatever
// non-directory is at the name is replaced by the new file, a symlink
// included (never written through, whether it leads out or stays inside),
// a directory is refused, and a failing fill leaves the name as it was.
func TestReplaceFileNeverFollows(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fillErr error
		wantErr error // nil: the new file is at name afterwards
	}{
		{name: "new"},
		{name: "file"},
		{name: "sym"},
		{name: "insym"},
		{name: "fifo"},
		{name: "dir", wantErr: syscall.EISDIR},
		{name: "dir/", wantErr: syscall.EISDIR},
		{name: ".", wantErr: syscall.EISDIR},
		{name: "file", fillErr: errors.New("archive truncated"), wantErr: errFill},
		{name: "sym", fillErr: errors.New("archive truncated"), wantErr: errFill},
		{name: "../outside/secret", wantErr: dirfd.ErrEscape},
	} {
		t.Run(tc.name+map[bool]string{true: "+fillfails"}[tc.fillErr != nil], func(t *testing.T) {
			base := t.TempDir()
			buildTree(t, base, entryTree)
			root := filepath.Join(base, "root")
			if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, base)
			d := openDir(t, root)
			err := d.ReplaceFile(tc.name, 0o640, func(f *os.File) error {
				if _, err := f.WriteString("new content"); err != nil {
					return err
				}
				if tc.fillErr != nil {
					return errors.Join(errFill, tc.fillErr)
				}
				return f.Chmod(0o600)
			})
			d.Close()
			after := snapshot(t, base)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReplaceFile(%q) = %v, want %v", tc.name, err, tc.wantErr)
				}
				if diff := cmp.Diff(before, after); diff != "" {
					t.Fatalf("a failed ReplaceFile changed the tree (-before +after):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReplaceFile(%q): %v", tc.name, err)
			}
			want := before
			want["root/"+tc.name] = entry{Type: "file", Mode: 0o600, Content: "new content", Nlink: 1}
			if diff := cmp.Diff(want, after); diff != "" {
				t.Fatalf("tree after ReplaceFile(%q) (-want +got):\n%s", tc.name, diff)
			}
			if left := stagingLeftovers(t, root); len(left) != 0 {
				t.Fatalf("staging leftovers: %v", left)
			}
		})
	}
}

var errFill = errors.New("fill failed")

// TestReplaceLinkHandle pins the hard link by handle that replaces: the
// object linked is the handle's even after its name was taken by another
// object, a symlink at the new name is replaced and not followed, a
// directory there is refused, and linking an object over its own name
// changes nothing.
func TestReplaceLinkHandle(t *testing.T) {
	for _, tc := range []struct {
		newname string
		wantErr error
	}{
		{newname: "new"},
		{newname: "sym"},
		{newname: "insym"},
		{newname: "file"},
		{newname: "dir", wantErr: syscall.EISDIR},
	} {
		t.Run(tc.newname, func(t *testing.T) {
			base := t.TempDir()
			buildTree(t, base, entryTree)
			root := filepath.Join(base, "root")
			d := openDir(t, root)
			h, err := d.OpenHandle("file")
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			err = d.ReplaceLinkHandle(h, tc.newname)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skipf("no route to link a descriptor here: %v", err)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ReplaceLinkHandle(%q) = %v, want %v", tc.newname, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameFile(t, filepath.Join(root, "file"), filepath.Join(root, tc.newname)) {
				t.Fatalf("%s is not a link to file", tc.newname)
			}
			if data, _ := os.ReadFile(filepath.Join(base, "outside/secret")); string(data) != "outside" {
				t.Fatalf("outside/secret changed: %q", data)
			}
			d.Close()
			if left := stagingLeftovers(t, root); len(left) != 0 {
				t.Fatalf("staging leftovers: %v", left)
			}
		})
	}
}

// TestLchtimesLeavesTarget pins that Lchtimes sets a symlink's own times
// and never its target's, inside the tree or out.
func TestLchtimesLeavesTarget(t *testing.T) {
	base := t.TempDir()
	buildTree(t, base, entryTree)
	d := openDir(t, filepath.Join(base, "root"))
	before, err := os.Stat(filepath.Join(base, "outside/secret"))
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, name := range []string{"sym", "insym"} {
		if err := d.Lchtimes(name, when, when); err != nil {
			t.Fatalf("Lchtimes(%s): %v", name, err)
		}
		fi, err := os.Lstat(filepath.Join(base, "root", name))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.ModTime().Equal(when) {
			t.Errorf("%s: mtime %v, want %v", name, fi.ModTime(), when)
		}
	}
	for _, target := range []string{"outside/secret", "root/file"} {
		fi, err := os.Stat(filepath.Join(base, target))
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().Equal(when) {
			t.Errorf("Lchtimes followed a symlink to %s", target)
		}
	}
	if after, _ := os.Stat(filepath.Join(base, "outside/secret")); !after.ModTime().Equal(before.ModTime()) {
		t.Error("outside/secret's mtime changed")
	}
}

// TestMknodNeverReplaces pins Mknod: a FIFO is made with the permission
// bits asked for (less the umask), an existing name of any kind is EEXIST
// (a symlink there is not followed), and types that are not nodes are
// EINVAL.
func TestMknodNeverReplaces(t *testing.T) {
	base := t.TempDir()
	buildTree(t, base, entryTree)
	d := openDir(t, filepath.Join(base, "root"))
	if err := d.Mknod("fifo", fs.ModeNamedPipe|0o640, 0, 0); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(base, "root/fifo"))
	if err != nil {
		t.Fatal(err)
	}
	if want := fs.ModeNamedPipe | 0o640&^currentUmask(); fi.Mode() != want {
		t.Errorf("fifo mode %v, want %v", fi.Mode(), want)
	}
	for _, tc := range []struct {
		name    string
		mode    fs.FileMode
		wantErr error
	}{
		{"sym", fs.ModeNamedPipe, fs.ErrExist},
		{"file", fs.ModeNamedPipe, fs.ErrExist},
		{"dir", fs.ModeNamedPipe, fs.ErrExist},
		{"new", 0o644, syscall.EINVAL},
		{"new", fs.ModeDir, syscall.EINVAL},
		{"../outside/fifo", fs.ModeNamedPipe, dirfd.ErrEscape},
	} {
		if err := d.Mknod(tc.name, tc.mode, 0, 0); !errors.Is(err, tc.wantErr) {
			t.Errorf("Mknod(%q, %v) = %v, want %v", tc.name, tc.mode, err, tc.wantErr)
		}
	}
}
