//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// TestInstall runs every install case with the direct layout (where the
// filesystem has an atomic exchange), with the versioned one
// (rename_exchange reported missing) and on the portable profile.
func TestInstall(t *testing.T) {
	for _, disable := range []string{"", "rename_exchange", "all"} {
		for _, tc := range installCases(disable) {
			t.Run(disable+"/"+tc.name, func(t *testing.T) { tc.run(t, disable) })
		}
	}
}

// sourceTree is a tree with everything install copies: nested directories
// (one read-only), files of several modes including set-user-ID, symlinks
// (relative, absolute, dangling, to a directory), a hard-link pair across
// directories, other owners when root, and old times, set last.
func sourceTree(top string) []string {
	specs := []string{
		"file " + top + "/bin/tool #!/bin/sh",
		"mode " + top + "/bin/tool 755",
		"file " + top + "/bin/suid x",
		"mode " + top + "/bin/suid 4755",
		"file " + top + "/etc/secret s3cret",
		"mode " + top + "/etc/secret 600",
		"file " + top + "/etc/empty",
		"link " + top + "/bin/tool-link " + top + "/bin/tool",
		"link " + top + "/top-link " + top + "/bin/tool",
		"symlink " + top + "/rel ../etc/secret",
		"symlink " + top + "/etc/rel ../bin/tool",
		"symlink " + top + "/abs /etc/hostname",
		"symlink " + top + "/dangling no/such/file",
		"symlink " + top + "/dirlink etc",
		"dir " + top + "/deep/a/b/c",
		"file " + top + "/deep/a/b/c/f deep",
	}
	if os.Geteuid() == 0 {
		// Without privilege, t.TempDir could not remove a read-only
		// directory's entries.
		specs = append(specs, "mode "+top+"/deep/a/b 555", "chown "+top+"/etc/secret 65534", "chown "+top+"/rel 65534", "chown "+top+"/deep 65534")
	}
	return append(specs,
		"mtime "+top+"/bin/tool 1000000000",
		"mtime "+top+"/etc/secret 1000000001",
		"mtime "+top+"/deep/a/b/c 1000000002",
		"mtime "+top+"/deep/a/b 1000000003",
		"mtime "+top+"/bin 1000000004",
		"mtime "+top+" 1000000005",
	)
}

func installCases(disable string) []cmdCase {
	j := filepath.Join
	layout := wantInstallLayout(disable)
	src := sourceTree("src")
	two := append(sourceTree("src"), "file new/only-in-new fresh", "mode new 700", "mtime new 1200000000")
	sameTree := func(dst, src string) func(t *testing.T, r string) {
		return func(t *testing.T, r string) {
			t.Helper()
			wantSameTree(t, j(r, dst), j(r, src))
		}
	}
	cases := []cmdCase{
		{name: "a new tree",
			tree: src, args: []string{"install", "src", "dst"},
			check: func(t *testing.T, r string) {
				wantSameTree(t, j(r, "dst"), j(r, "src"))
				wantLayout(t, r, "dst", layout)
			}},
		{name: "over a tree it installed",
			tree: two, before: [][]string{{"install", "new", "dst"}}, args: []string{"install", "src", "dst"},
			check: func(t *testing.T, r string) {
				wantSameTree(t, j(r, "dst"), j(r, "src"))
				wantLayout(t, r, "dst", layout)
			}},
		{name: "keeping the previous tree",
			tree: two, before: [][]string{{"install", "new", "dst"}}, args: []string{"install", "--keep-previous", "old", "src", "dst"},
			check: func(t *testing.T, r string) {
				wantSameTree(t, j(r, "dst"), j(r, "src"))
				wantSameTree(t, j(r, "old"), j(r, "new"))
			}},
		{name: "--link-unchanged links the files that did not change",
			tree:   append(append(sourceTree("src"), sourceTree("src2")...), "file src2/etc/secret changed!", "mtime src2/etc/secret 1100000000"),
			before: [][]string{{"install", "src", "dst"}}, args: []string{"install", "--link-unchanged", "--keep-previous", "old", "src2", "dst"},
			check: func(t *testing.T, r string) {
				wantSameTree(t, j(r, "dst"), j(r, "src2"))
				for name, linked := range map[string]bool{"bin/tool": true, "top-link": true, "etc/secret": false, "deep/a/b/c/f": false /* no time set: made anew */} {
					a, err1 := os.Stat(j(r, "dst", name))
					b, err2 := os.Stat(j(r, "old", name))
					if err1 != nil || err2 != nil {
						t.Fatal(err1, err2)
					}
					if os.SameFile(a, b) != linked {
						t.Errorf("%s: linked to the previous tree's %v, want %v", name, !linked, linked)
					}
				}
			}},
		{name: "--link-unchanged with nothing installed yet",
			tree: src, args: []string{"install", "--link-unchanged", "src", "dst"},
			check: sameTree("dst", "src")},
		{name: "a verify command that passes",
			tree: src, args: []string{"install", "--verify", `test -x "$1/bin/tool" && test "$PWD" -ef "$1" && test "$RACEFREE_STAGE" = "$1" && test -f bin/suid`, "src", "dst"},
			check: sameTree("dst", "src")},
		{name: "a verify command that fails",
			tree: two, before: [][]string{{"install", "new", "dst"}}, args: []string{"install", "--verify", "exit 7", "src", "dst"},
			code: 1, stderr: []string{`dst: --verify "exit 7" refused the staged tree (exit status 7); dst left as it was`},
			check: sameTree("dst", "new")},
		{name: "verify false on a new name",
			tree: src, args: []string{"install", "--verify", "false", "src", "dst"},
			code: 1, stderr: []string{"exit status 1"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "dst")) }},
		{name: "flags after the operands",
			tree: src, args: []string{"install", "src", "dst", "--verify", "true"},
			check: sameTree("dst", "src")},
		{name: "an empty source",
			tree: []string{"dir src", "dir d"}, args: []string{"install", "src", "d/dst"},
			check: func(t *testing.T, r string) { wantSameTree(t, j(r, "d/dst"), j(r, "src")) }},

		{name: "a missing source",
			args: []string{"install", "nosrc", "dst"},
			code: 1, stderr: []string{"nosrc: no such file or directory"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "dst")) }},
		{name: "a source that is a file",
			tree: []string{"file f"}, args: []string{"install", "f", "dst"},
			code: 1, stderr: []string{"f: not a directory"}},
		{name: "a destination whose directory is missing",
			tree: src, args: []string{"install", "src", "no/dst"},
			code: 1, stderr: []string{"no/dst: no such file or directory"}},
		{name: "a destination inside the source",
			tree: []string{"file src/f x", "dir src/sub"}, args: []string{"install", "src", "src/sub/dst"},
			code: 1, stderr: []string{"src/sub/dst: ", "cannot copy a directory into itself"},
			check: func(t *testing.T, r string) {
				wantMissing(t, j(r, "src/sub/dst"))
				wantNoStaging(t, j(r, "src/sub"))
			}},
		{name: "a destination that is a file",
			tree: append(sourceTree("src"), "file dst keep"), args: []string{"install", "src", "dst"},
			code: 1, stderr: []string{"dst: ", "not a directory"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "dst"), "keep") }},

		{name: "no operands", args: []string{"install"}, code: 2, stderr: []string{"want SRC_DIR and DEST, got 0"}},
		{name: "one operand", args: []string{"install", "src"}, code: 2, stderr: []string{"want SRC_DIR and DEST, got 1"}},
		{name: "three operands", args: []string{"install", "a", "b", "c"}, code: 2, stderr: []string{"got 3"}},
		{name: "an unknown flag", args: []string{"install", "--bogus", "a", "b"}, code: 2, stderr: []string{"flag provided but not defined: -bogus"}},
		{name: "--verify without CMD", args: []string{"install", "--verify"}, code: 2, stderr: []string{"flag needs an argument"}},
		{name: "--keep-previous with a slash", args: []string{"install", "--keep-previous", "x/old", "a", "b"}, code: 2, stderr: []string{`--keep-previous "x/old"`}},
		{name: "DEST is dot", args: []string{"install", "src", "."}, code: 2, stderr: []string{`DEST "."`}},
		{name: "an empty operand", args: []string{"install", "", "b"}, code: 2, stderr: []string{"empty operand"}},
	}
	if disable == "" && layout == "direct" {
		// The versioned layout cannot replace a plain directory atomically,
		// so it refuses one that install did not make.
		cases = append(cases, cmdCase{name: "over a directory made otherwise",
			tree: append(sourceTree("src"), "file dst/old x"), args: []string{"install", "src", "dst"},
			check: sameTree("dst", "src")})
	} else {
		cases = append(cases, cmdCase{name: "over a directory made otherwise",
			tree: append(sourceTree("src"), "file dst/old x"), args: []string{"install", "src", "dst"},
			code: 1, stderr: []string{"dst: ", "no atomic exchange"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "dst/old"), "x") }})
	}
	if runtime.GOOS == "linux" {
		// The check sees the tree only through /proc/PID/fd/N of racefree;
		// it must not hold a descriptor of the stage itself (G4).
		cases = append(cases, cmdCase{name: "the verify command inherits no descriptor of the stage",
			tree: src, args: []string{"install", "--verify", `for f in /proc/self/fd/*; do case "$(readlink "$f")" in *.racefree-*) echo "inherited $f"; exit 1;; esac; done; case "$1" in /proc/*/fd/*) ;; *) exit 1;; esac`, "src", "dst"},
			check: sameTree("dst", "src")})
	}
	return cases
}

// wantLayout checks how name in dir was published: a directory, or a
// symlink to NAME.versions/ID.
func wantLayout(t *testing.T, dir, name, layout string) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	switch layout {
	case "direct":
		if !fi.IsDir() {
			t.Errorf("%s: %v, want a directory (direct layout)", name, fi.Mode())
		}
	case "versioned":
		target, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || !strings.HasPrefix(target, name+".versions/") {
			t.Errorf("%s: link to %q (%v), want one to %s.versions/ID (versioned layout)", name, target, err, name)
		}
	}
}

// node is what install must reproduce of one entry.
type node struct {
	Mode     fs.FileMode
	Content  string
	Target   string
	Mtime    int64
	Uid, Gid uint32
	LinkedTo string // the first name (in walk order) of the same file, for hard links
}

// snapshot describes the tree at top (following top itself, which is a
// symlink in the versioned layout; nothing below it).
func snapshot(t *testing.T, top string) map[string]node {
	t.Helper()
	nodes := map[string]node{}
	first := map[[2]uint64]string{}
	var walk func(rel string)
	walk = func(rel string) {
		p := filepath.Join(top, rel)
		var fi fs.FileInfo
		var err error
		if rel == "." {
			fi, err = os.Stat(p)
		} else {
			fi, err = os.Lstat(p)
		}
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		n := node{Mode: fi.Mode(), Mtime: fi.ModTime().UnixNano(), Uid: st.Uid, Gid: st.Gid}
		switch fi.Mode().Type() {
		case 0:
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			n.Content = string(b)
			id := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
			if f, ok := first[id]; ok {
				n.LinkedTo = f
			} else if st.Nlink > 1 {
				first[id] = rel
			}
		case fs.ModeSymlink:
			if n.Target, err = os.Readlink(p); err != nil {
				t.Fatal(err)
			}
		case fs.ModeDir:
			entries, err := os.ReadDir(p)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				walk(filepath.Join(rel, e.Name()))
			}
		}
		nodes[rel] = n
	}
	walk(".")
	return nodes
}

// wantSameTree checks that the tree at got reproduces the one at want.
func wantSameTree(t *testing.T, got, want string) {
	t.Helper()
	if diff := cmp.Diff(snapshot(t, want), snapshot(t, got)); diff != "" {
		t.Errorf("%s differs from %s (-want +got):\n%s", got, want, diff)
	}
}

// TestInstallRefusesSpecialFiles checks that a FIFO in the source fails
// the install, naming it, and leaves nothing behind.
func TestInstallRefusesSpecialFiles(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, "file src/a x", "dir src/d")
	if err := unix.Mkfifo(filepath.Join(root, "src/d/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := racefree(t, root, nil, "install", "src", "dst")
	r.expect(t, 1, nil, []string{"racefree: install: dst: ", "d/fifo: is a FIFO, socket or device node, which is copied only with CopySpecial"})
	wantMissing(t, filepath.Join(root, "dst"))
	wantNoStaging(t, root)
}

// TestInstallQuietWithoutTerminal checks that a successful install prints
// nothing when standard error is not a terminal (the progress display is
// for people only).
func TestInstallQuietWithoutTerminal(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, sourceTree("src")...)
	r := racefree(t, root, nil, "install", "src", "dst")
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		t.Errorf("exit status %d, stdout %q, stderr %q; want 0 and no output", r.code, r.stdout, r.stderr)
	}
}

// TestLayoutText pins the terminal summary's words for each way a tree is
// published.
func TestLayoutText(t *testing.T) {
	for _, tc := range []struct {
		res  dirfd.InstallResult
		want string
	}{
		{dirfd.InstallResult{Layout: dirfd.LayoutDirect, Replaced: true}, "direct layout: the old tree was exchanged with the new one atomically"},
		{dirfd.InstallResult{Layout: dirfd.LayoutDirect}, "direct layout: a new name, published by one rename"},
		{dirfd.InstallResult{Layout: dirfd.LayoutVersioned, Version: "v1", Replaced: true}, "versioned layout: the symlink was replaced atomically by one to site.versions/v1"},
		{dirfd.InstallResult{Layout: dirfd.LayoutVersioned, Version: "v1"}, "versioned layout: a new symlink to site.versions/v1"},
	} {
		if got := layoutText("site", tc.res); got != tc.want {
			t.Errorf("layoutText(%+v) = %q, want %q", tc.res, got, tc.want)
		}
	}
}
