//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// copyFixture is a tree with everything cp -a copies: nested directories
// (one read-only), files of several modes (set-ID ones too), symlinks
// (relative, absolute, dangling, to a directory, pointing out), hard links
// within and across directories, an empty file and directory, a FIFO, and
// as root other owners; every object with its own times.
func copyFixture(top string) string {
	spec := `
		dir T
		dir T/bin
		file T/bin/tool #!/bin/sh
		chmod T/bin/tool 755
		file T/bin/suid x
		chmod T/bin/suid 4755
		file T/bin/sgid y
		chmod T/bin/sgid 2711
		dir T/etc
		file T/etc/secret s3cret
		chmod T/etc/secret 600
		file T/etc/empty
		link T/bin/tool-link T/bin/tool
		link T/top-link T/bin/tool
		symlink T/rel ../etc/secret
		symlink T/etc/rel ../bin/tool
		symlink T/abs /etc/hostname
		symlink T/dangling no/such/file
		symlink T/dirlink etc
		dir T/deep
		dir T/deep/a
		dir T/deep/a/b
		file T/deep/a/b/f deep
		dir T/deep/a/emptydir
		dir T/shared
		chmod T/shared 3777
		fifo T/pipe
	`
	if os.Geteuid() == 0 {
		spec += `
			chown T/etc/secret 65534:65534
			chown T/rel 65534:65534
			chown T/deep 12:34
			chown T/bin/suid 7:8
		`
	}
	spec += `
		mtime T/bin/tool 1000000000
		mtime T/etc/secret 1000000001
		mtime T/rel 1000000006
		mtime T/deep/a/b/f 1000000007
		mtime T/deep/a/b 1000000002
		mtime T/deep/a 1000000003
		mtime T/bin 1000000004
		mtime T/etc 1000000008
		mtime T 1000000005
		chmod T/deep/a 555
	`
	return strings.ReplaceAll(spec, "T", top)
}

// TestCopyTreeMatchesCpA copies the fixture with cp -a and with CopyTree
// and compares the two copies whole: types, modes with set-ID bits,
// owners, sizes and contents, modification times to the nanosecond,
// symlink targets and hard-link identity. As uid 65534 the set-ID bits of
// files owned by someone else are the difference S7 asks for, and are
// checked apart.
func TestCopyTreeMatchesCpA(t *testing.T) {
	if _, err := exec.LookPath("cp"); err != nil {
		t.Skip("no cp(1) to compare with")
	}
	for _, special := range []bool{false, true} {
		t.Run(fmt.Sprint("CopySpecial ", special), func(t *testing.T) {
			root := t.TempDir()
			buildTree(t, root, copyFixture("src"))
			if !special {
				os.Remove(filepath.Join(root, "src", "pipe"))
				unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, "src"), []unix.Timespec{{Sec: 1000000005}, {Sec: 1000000005}}, 0)
			}
			t.Cleanup(func() { walkChmodDirs(root) })
			run(t, "cp", "-a", filepath.Join(root, "src"), filepath.Join(root, "cp"))
			d, err := dirfd.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var opts []dirfd.CopyOption
			if special {
				opts = append(opts, dirfd.CopySpecial())
			}
			if err := dirfd.CopyTree(d, "racefree", d, "src", opts...); err != nil {
				t.Fatalf("CopyTree: %v", err)
			}
			want, got := treeState(t, filepath.Join(root, "cp")), treeState(t, filepath.Join(root, "racefree"))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("CopyTree differs from cp -a (-cp +CopyTree):\n%s", diff)
			}
		})
	}
}

// TestCopyTreeRefusesSpecialFilesByDefault: without CopySpecial a FIFO
// stops the copy with an error naming it, and is never opened (which
// would block).
func TestCopyTreeRefusesSpecialFilesByDefault(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, "dir src\nfile src/a a\nfifo src/pipe")
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = dirfd.CopyTree(d, "dst", d, "src")
	var le *os.LinkError
	if err == nil || !errors.As(err, &le) || !strings.HasSuffix(le.Old, "src/pipe") {
		t.Fatalf("CopyTree = %v, want an *os.LinkError naming src/pipe", err)
	}
}

// TestCopyTreeErrors pins the documented failures: an existing destination
// (fs.ErrExist), a destination inside the source, names that leave either
// tree (ErrEscape), a missing source.
func TestCopyTreeErrors(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, "dir tree\ndir tree/src\nfile tree/src/f f\ndir tree/exists\ndir outside\nfile outside/g g")
	d, err := dirfd.Open(filepath.Join(root, "tree"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name     string
		dst, src string
		want     error
	}{
		{"destination exists", "exists", "src", fs.ErrExist},
		{"destination is the Dir", ".", "src", fs.ErrExist},
		{"destination inside the source", "src/copy", "src", nil},
		{"source leaves the tree", "new1", "../outside", dirfd.ErrEscape},
		{"destination leaves the tree", "../new2", "src", dirfd.ErrEscape},
		{"missing source", "new3", "nothing", fs.ErrNotExist},
		{"empty name", "", "src", fs.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := dirfd.CopyTree(d, tc.dst, d, tc.src)
			var le *os.LinkError
			if err == nil || !errors.As(err, &le) {
				t.Fatalf("CopyTree(%q, %q) = %v, want an *os.LinkError", tc.dst, tc.src, err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("CopyTree(%q, %q) = %v, want %v", tc.dst, tc.src, err, tc.want)
			}
			if tc.want == nil && !strings.Contains(err.Error(), "into itself") {
				t.Errorf("CopyTree(%q, %q) = %v, want a refusal to copy into itself", tc.dst, tc.src, err)
			}
		})
	}
	if _, err := os.Lstat(filepath.Join(root, "new2")); err == nil {
		t.Errorf("made new2 outside the tree")
	}
}

// TestCopyTreeInto copies a tree's contents into an existing directory, as
// install does into its stage: the directory keeps its mode and gets the
// source's times.
func TestCopyTreeInto(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, "dir src\nfile src/f f\ndir src/d\nlink src/d/g src/f\nchmod src 0750\nmtime src 1000000000\ndir stage\nchmod stage 0700")
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var files int
	err = dirfd.CopyTree(d, "stage", d, "src", dirfd.CopyInto(), dirfd.CopyProgress(func(n int, _ int64) { files = n }))
	if err != nil {
		t.Fatal(err)
	}
	got := treeState(t, filepath.Join(root, "stage"))
	if got["."].Mode != "700" || got["."].Mtime != 1000000000_987654321 || got["f"].LinkedTo != "d/g" {
		t.Errorf("stage after CopyInto: %+v", got)
	}
	if files != 4 {
		t.Errorf("progress counted %d objects, want 4", files)
	}
}

// TestCopyTreeLinkUnchanged: files equal in size, mode, owner and time to
// those at the same place in prev are hard-links of prev's; changed and
// new ones are copies.
func TestCopyTreeLinkUnchanged(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, `
		dir prev
		dir prev/sub
		file prev/same same
		mtime prev/same 1000000000
		file prev/sub/same2 same2
		mtime prev/sub/same2 1000000000
		file prev/changed old
		mtime prev/changed 1000000000
		dir src
		dir src/sub
		file src/same same
		mtime src/same 1000000000
		file src/sub/same2 same2
		mtime src/sub/same2 1000000000
		file src/changed newer
		mtime src/changed 1000000000
		file src/new fresh
	`)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	prev, err := d.OpenDir("prev")
	if err != nil {
		t.Fatal(err)
	}
	defer prev.Close()
	if err := dirfd.CopyTree(d, "dst", d, "src", dirfd.LinkUnchanged(prev)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		linked bool
	}{{"same", true}, {"sub/same2", true}, {"changed", false}, {"new", false}} {
		a, err1 := os.Lstat(filepath.Join(root, "dst", tc.name))
		b, err2 := os.Lstat(filepath.Join(root, "prev", tc.name))
		if err1 != nil {
			t.Fatal(err1)
		}
		if linked := err2 == nil && os.SameFile(a, b); linked != tc.linked {
			t.Errorf("%s: linked from prev %v, want %v", tc.name, linked, tc.linked)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(root, "dst", "changed")); string(data) != "newer" {
		t.Errorf("changed holds %q", data)
	}
}

// TestCopyTreeLinksSecondNamesOnlyToItsOwnCopy: the second name of a file
// with two links is linked to the copy CopyTree made of the first, never
// to whatever the copy's top name leads to by then. Someone who may rename
// in the destination's parent swaps the top, between the two names, for a
// symlink to another directory there, or for that directory itself;
// before, linkat was then handed that directory's file (as root, whatever
// fs.protected_hardlinks says), and a later ChownTree of the copy gave
// that file away.
func TestCopyTreeLinksSecondNamesOnlyToItsOwnCopy(t *testing.T) {
	for _, swap := range []string{"symlink", "directory"} {
		t.Run(swap, func(t *testing.T) {
			base := t.TempDir()
			buildTree(t, base, `
				dir spool
				dir spool/bob
				file spool/bob/key bob's private key
				dir src
				file src/key harmless
				dir src/z
				link src/z/b src/key
			`)
			spool := filepath.Join(base, "spool")
			dst, err := dirfd.Open(spool)
			if err != nil {
				t.Fatal(err)
			}
			defer dst.Close()
			src, err := dirfd.Open(base)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			swapped := false
			strike := dirfd.CopyProgress(func(files int, _ int64) {
				if files != 1 || swapped {
					return
				}
				swapped = true // after key, before z/b
				if err := os.Rename(filepath.Join(spool, "new"), filepath.Join(spool, "new.real")); err != nil {
					t.Error(err)
				}
				if swap == "symlink" {
					err = os.Symlink("bob", filepath.Join(spool, "new"))
				} else {
					err = os.Rename(filepath.Join(spool, "bob"), filepath.Join(spool, "new"))
				}
				if err != nil {
					t.Error(err)
				}
			})
			err = dirfd.CopyTree(dst, "new", src, "src", strike)
			if !swapped {
				t.Fatal("the copy never reported its first file")
			}
			if err == nil {
				t.Error("CopyTree went on after its top was replaced")
			}
			key := filepath.Join(spool, "bob", "key")
			if swap == "directory" {
				key = filepath.Join(spool, "new", "key")
			}
			var st unix.Stat_t
			if err := unix.Lstat(key, &st); err != nil {
				t.Fatal(err)
			}
			if st.Nlink != 1 {
				t.Errorf("bob's key has %d links after the copy (%v): the copy linked it", st.Nlink, err)
			}
		})
	}
}
