//go:build unix

package dirfd_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/racefree/racefree/dirfd"
)

// TestFileInfoIsAcceptedByOSSameFile: every FileInfo racefree hands out is
// one os.SameFile accepts. Code switching from os.Root compares identities
// with os.SameFile; with racefree's own FileInfo type it silently got
// false for every pair.
func TestFileInfoIsAcceptedByOSSameFile(t *testing.T) {
	dir := t.TempDir()
	buildTree(t, dir, "dir d\nfile d/f F\nsymlink l d/f")
	d := openDir(t, dir)
	lstat := func(name string) fs.FileInfo {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	entryInfo := func(list func() ([]fs.DirEntry, error)) func() (fs.FileInfo, error) {
		return func() (fs.FileInfo, error) {
			entries, err := list()
			if err != nil {
				return nil, err
			}
			if len(entries) != 1 {
				t.Fatalf("listing d gave %d entries, want 1", len(entries))
			}
			return entries[0].Info()
		}
	}
	for _, tc := range []struct {
		name string
		get  func() (fs.FileInfo, error)
		want string
	}{
		{"Stat", func() (fs.FileInfo, error) { return d.Stat("l") }, "d/f"},
		{"Lstat", func() (fs.FileInfo, error) { return d.Lstat("l") }, "l"},
		{"Lstat of a directory", func() (fs.FileInfo, error) { return d.Lstat("d/") }, "d"},
		{"ReadDir entry Info", entryInfo(func() ([]fs.DirEntry, error) { return d.ReadDir("d") }), "d/f"},
		{"fs.ReadDir of FS entry Info", entryInfo(func() ([]fs.DirEntry, error) { return fs.ReadDir(d.FS(), "d") }), "d/f"},
		{"FS Open then ReadDir entry Info", entryInfo(func() ([]fs.DirEntry, error) {
			f, err := d.FS().Open("d")
			if err != nil {
				return nil, err
			}
			defer f.Close()
			return f.(fs.ReadDirFile).ReadDir(-1)
		}), "d/f"},
		{"fs.Stat of FS", func() (fs.FileInfo, error) { return fs.Stat(d.FS(), "l") }, "d/f"},
		{"fs.Lstat of FS", func() (fs.FileInfo, error) { return fs.Lstat(d.FS(), "l") }, "l"},
		{"Handle.Stat", func() (fs.FileInfo, error) {
			h, err := d.OpenHandle("d/f")
			if err != nil {
				return nil, err
			}
			defer h.Close()
			return h.Stat()
		}, "d/f"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := tc.get()
			if err != nil {
				t.Fatal(err)
			}
			if !os.SameFile(fi, lstat(tc.want)) {
				t.Errorf("os.SameFile(%s, os.Lstat(%s)) = false (a %T), want true", tc.name, tc.want, fi)
			}
		})
	}
}

// TestModeBeyondPermissionBitsIsRefused: as os.Root, a call that creates
// refuses a mode with set-ID or sticky bits (they are set with Chmod), and
// creates nothing.
func TestModeBeyondPermissionBitsIsRefused(t *testing.T) {
	dir := t.TempDir()
	d := openDir(t, dir)
	for _, tc := range []struct {
		name string
		call func(mode fs.FileMode) error
	}{
		{"OpenFile", func(mode fs.FileMode) error {
			f, err := d.OpenFile("new", os.O_RDWR|os.O_CREATE, mode)
			if err == nil {
				f.Close()
			}
			return err
		}},
		{"Mkdir", func(mode fs.FileMode) error { return d.Mkdir("new", mode) }},
		{"MkdirAll", func(mode fs.FileMode) error { return d.MkdirAll("new/sub", mode) }},
		{"MkdirAllDir", func(mode fs.FileMode) error {
			sub, err := d.MkdirAllDir("new/sub", mode)
			if err == nil {
				sub.Close()
			}
			return err
		}},
	} {
		for _, mode := range []fs.FileMode{0o777 | fs.ModeSticky, 0o755 | fs.ModeSetuid, 0o755 | fs.ModeSetgid, 0o644 | fs.ModeDir} {
			err := tc.call(mode)
			var pe *fs.PathError
			if !errors.Is(err, fs.ErrInvalid) || !errors.As(err, &pe) {
				t.Errorf("%s with mode %v = %v, want a *fs.PathError matching fs.ErrInvalid", tc.name, mode, err)
			}
			if _, err := os.Lstat(filepath.Join(dir, "new")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("%s with mode %v created something: %v", tc.name, mode, err)
			}
		}
	}
}

// TestReadDirInfoAfterSwapToOutside pins the attack of os.Root's
// CVE-2026-27139 class: list a directory, then, before the entries' Info is
// asked, swap the directory for a symlink to a directory outside the tree
// (/etc in the wild) holding entries of the same names. Info must still
// describe the entry that was listed; a lookup by path describes the
// outside one (its size, owner, inode), which the naive listing shows.
func TestReadDirInfoAfterSwapToOutside(t *testing.T) {
	type lister func(d *dirfd.Dir, root string) ([]fs.DirEntry, error)
	fsOpen := func(d *dirfd.Dir, _ string) ([]fs.DirEntry, error) {
		f, err := d.FS().Open("x")
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return f.(fs.ReadDirFile).ReadDir(-1)
	}
	for _, tc := range []struct {
		name   string
		list   lister
		caught bool // the check must catch this one (the naive control)
	}{
		{"Dir.ReadDir", func(d *dirfd.Dir, _ string) ([]fs.DirEntry, error) { return d.ReadDir("x") }, false},
		{"fs.ReadDir of FS", func(d *dirfd.Dir, _ string) ([]fs.DirEntry, error) { return fs.ReadDir(d.FS(), "x") }, false},
		{"FS Open then ReadDir", fsOpen, false},
		{"naive os.ReadDir", func(_ *dirfd.Dir, root string) ([]fs.DirEntry, error) {
			return os.ReadDir(filepath.Join(root, "x"))
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			root := filepath.Join(parent, "root")
			buildTree(t, parent, "dir root\ndir root/x\nfile root/x/shadow inside\ndir outside\nfile outside/shadow the-outside-secret")
			listed, err := os.Lstat(filepath.Join(root, "x", "shadow"))
			if err != nil {
				t.Fatal(err)
			}
			d := openDir(t, root)
			entries, err := tc.list(d, root)
			if err != nil || len(entries) != 1 {
				t.Fatalf("listing: %v, %v", entries, err)
			}
			// The attacker: x is moved away and replaced by a symlink out.
			if err := os.Rename(filepath.Join(root, "x"), filepath.Join(root, "x.moved")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(parent, "outside"), filepath.Join(root, "x")); err != nil {
				t.Fatal(err)
			}
			fi, err := entries[0].Info()
			wrong := err != nil || !os.SameFile(fi, listed) || fi.Size() != listed.Size()
			switch {
			case tc.caught && !wrong:
				t.Errorf("the check does not catch the naive listing: Info() = %v, %v", fi, err)
			case !tc.caught && wrong:
				t.Errorf("Info() after the swap = %v (size %d, inode %d), %v; want the listed entry (size %d, inode %d)",
					fi, size(fi), ino(fi), err, listed.Size(), ino(listed))
			}
		})
	}
}

func size(fi fs.FileInfo) int64 {
	if fi == nil {
		return -1
	}
	return fi.Size()
}

func ino(fi fs.FileInfo) uint64 {
	if fi == nil {
		return 0
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}
