//go:build unix

package dirfd_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/racefree/racefree/dirfd"
)

// fsTree creates files, nested directories and symlinks that stay inside
// the tree (fstest.TestFS opens everything it finds).
func fsTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"dir", "dir/sub", "dir/sub/deeper", "empty"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{
		"a.txt":                   "alpha\n",
		"dir/b.txt":               "bravo\n",
		"dir/sub/c.txt":           "charlie\n",
		"dir/sub/deeper/d.txt":    "delta\n",
		"dir/sub/deeper/.hidden":  "",
		"dir/with space.txt":      "echo\n",
		"dir/sub/deeper/long.bin": string(make([]byte, 70000)),
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, target := range map[string]string{
		"link-a":            "a.txt",
		"dir/link-up":       "../a.txt",
		"dir/sub/link-dir":  "../../dir/sub/deeper",
		"dir/sub/link-self": ".",
	} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFSConformance(t *testing.T) {
	root := fsTree(t)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := fstest.TestFS(d.FS(),
		"a.txt", "dir/b.txt", "dir/sub/c.txt", "dir/sub/deeper/d.txt",
		"dir/sub/deeper/.hidden", "dir/with space.txt", "dir/sub/deeper/long.bin",
		"link-a", "dir/link-up", "dir/sub/link-dir", "dir/sub/link-self", "empty",
	); err != nil {
		t.Fatal(err)
	}
}

func TestFSInterfaces(t *testing.T) {
	d, err := dirfd.Open(fsTree(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fsys := d.FS()
	if _, ok := fsys.(fs.StatFS); !ok {
		t.Error("FS does not implement fs.StatFS")
	}
	if _, ok := fsys.(fs.ReadDirFS); !ok {
		t.Error("FS does not implement fs.ReadDirFS")
	}
	if _, ok := fsys.(fs.ReadFileFS); !ok {
		t.Error("FS does not implement fs.ReadFileFS")
	}
	rl, ok := fsys.(fs.ReadLinkFS)
	if !ok {
		t.Fatal("FS does not implement fs.ReadLinkFS")
	}
	if target, err := rl.ReadLink("dir/link-up"); err != nil || target != "../a.txt" {
		t.Errorf("ReadLink(dir/link-up) = %q, %v", target, err)
	}
	if fi, err := rl.Lstat("link-a"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("Lstat(link-a) = %v, %v; want a symlink", fi, err)
	}
	if fi, err := fs.Stat(fsys, "link-a"); err != nil || !fi.Mode().IsRegular() || fi.Size() != 6 {
		t.Errorf("Stat(link-a) = %v, %v; want the 6-byte file", fi, err)
	}
	if data, err := fs.ReadFile(fsys, "dir/sub/link-dir/d.txt"); err != nil || string(data) != "delta\n" {
		t.Errorf("ReadFile through an in-tree directory link = %q, %v", data, err)
	}
	if _, err := rl.ReadLink("a.txt"); err == nil {
		t.Error("ReadLink of a regular file succeeded")
	}
}

// TestFSInvalidNames: the FS accepts only what fs.ValidPath accepts, for
// every method, before any lookup.
func TestFSInvalidNames(t *testing.T) {
	root := fsTree(t)
	d, err := dirfd.Open(filepath.Join(root, "dir"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fsys := d.FS()
	rl := fsys.(fs.ReadLinkFS)
	ops := map[string]func(string) error{
		"Open":     func(n string) error { f, err := fsys.Open(n); closeIf(f); return err },
		"Stat":     func(n string) error { _, err := fs.Stat(fsys, n); return err },
		"ReadDir":  func(n string) error { _, err := fs.ReadDir(fsys, n); return err },
		"ReadFile": func(n string) error { _, err := fs.ReadFile(fsys, n); return err },
		"ReadLink": func(n string) error { _, err := rl.ReadLink(n); return err },
		"Lstat":    func(n string) error { _, err := rl.Lstat(n); return err },
	}
	for _, name := range []string{"../a.txt", "/a.txt", "b.txt/", "sub/", "./b.txt", "sub/../b.txt", "sub//c.txt", "", "..", "/", "sub/.", "b.txt\x00"} {
		for op, f := range ops {
			err := f(name)
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("%s(%q) = %v, want fs.ErrInvalid", op, name, err)
			}
			var pe *fs.PathError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("%s(%q) = %T, want *fs.PathError", op, name, err)
			}
		}
	}
	// "." is valid and names the root.
	if fi, err := fs.Stat(fsys, "."); err != nil || !fi.IsDir() {
		t.Errorf(`Stat(".") = %v, %v`, fi, err)
	}
	// A valid name through a symlink that leaves the tree is an escape.
	if err := os.Symlink("../a.txt", filepath.Join(root, "dir", "out")); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.ReadFile(fsys, "out"); !errors.Is(err, dirfd.ErrEscape) {
		t.Errorf("ReadFile(out) through an escaping link = %v, want ErrEscape", err)
	}
	if target, err := rl.ReadLink("out"); err != nil || target != "../a.txt" {
		t.Errorf("ReadLink(out) = %q, %v: reading an escaping link is not an escape", target, err)
	}
}

func closeIf(f fs.File) {
	if f != nil {
		f.Close()
	}
}
