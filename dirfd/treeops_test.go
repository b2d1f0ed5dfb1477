//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// objState is what the tree comparisons with coreutils look at.
type objState struct {
	Type     string
	Mode     string // octal, set-ID and sticky bits included
	Uid, Gid uint32
	Size     int64
	Mtime    int64  // ns; directories' are left out where the tool changes them
	Target   string `json:",omitempty"`
	Content  string `json:",omitempty"`
	LinkedTo string `json:",omitempty"` // the first name (in order) of the same inode
}

// treeState describes every object under root, symlinks not followed.
func treeState(t testing.TB, root string) map[string]objState {
	t.Helper()
	state := map[string]objState{}
	first := map[[2]uint64]string{}
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for _, p := range names {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, p)
		s := objState{Mode: fmt.Sprintf("%o", st.Mode&0o7777), Uid: st.Uid, Gid: st.Gid, Mtime: st.Mtim.Nano()}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			s.Type = "dir"
		case unix.S_IFREG:
			s.Type, s.Size = "file", st.Size
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			s.Content = string(data)
			id := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
			if f, ok := first[id]; ok {
				s.LinkedTo = f
			} else {
				first[id] = rel
			}
		case unix.S_IFLNK:
			s.Type = "symlink"
			s.Mode = "" // 777 everywhere, and not what a tree job changes
			if s.Target, err = os.Readlink(p); err != nil {
				t.Fatal(err)
			}
		case unix.S_IFIFO:
			s.Type = "fifo"
		default:
			s.Type = "other"
		}
		state[rel] = s
	}
	return state
}

// ownerFixture is the tree the chown and chmod conformance tests start
// from, in two identical copies: files of several modes (set-ID ones
// included), directories, symlinks (to files, to directories, dangling,
// pointing out), a hard-link pair, a FIFO, and, as root, other owners.
func ownerFixture(top string) string {
	spec := strings.ReplaceAll(`
		dir T
		file T/plain data
		file T/suid s
		chmod T/suid 4755
		file T/sgid g
		chmod T/sgid 2750
		file T/private p
		chmod T/private 600
		dir T/sub
		chmod T/sub 2775
		file T/sub/x x
		chmod T/sub/x 751
		link T/sub/x-link T/sub/x
		dir T/sub/deeper
		file T/sub/deeper/y y
		symlink T/sub/deeper/up ../..
		symlink T/lfile plain
		symlink T/ldir sub
		symlink T/dangling nowhere
		symlink T/out /etc/passwd
		fifo T/pipe
		dir T/ro
		file T/ro/z z
		chmod T/ro 555
	`, "T", top)
	if os.Geteuid() == 0 {
		spec += strings.ReplaceAll(`
			chown T/plain 1000:1000
			chown T/sub/deeper 12:34
			chown T/lfile 7:7
			chown T/suid 5:5
		`, "T", top)
	}
	return spec
}

// pinTimes gives every object under root the same access and
// modification times (symlinks themselves), so that two copies made a few
// milliseconds apart compare equal.
func pinTimes(t *testing.T, root string) {
	t.Helper()
	ts := []unix.Timespec{{Sec: 1_500_000_000, Nsec: 111}, {Sec: 1_600_000_000, Nsec: 222}}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// TestChownTreeMatchesChownR compares ChownTree with coreutils' chown -R -h
// on the same fixture: owners, groups, modes (chown clears set-ID bits),
// times, link targets and hard-link identity must come out the same. As
// uid 65534 the tree is the caller's own and only the no-op case runs.
func TestChownTreeMatchesChownR(t *testing.T) {
	if _, err := exec.LookPath("chown"); err != nil {
		t.Skip("no chown(1) to compare with")
	}
	type owner struct{ uid, gid int }
	me := owner{os.Geteuid(), os.Getegid()}
	cases := []struct {
		name     string
		to       owner
		arg      string
		onlyRoot bool
	}{
		{"to the caller (no-op where owned)", me, fmt.Sprintf("%d:%d", me.uid, me.gid), false},
		{"owner and group", owner{4242, 4343}, "4242:4343", true},
		{"owner only", owner{4242, -1}, "4242", true},
		{"group only", owner{-1, 4343}, ":4343", true},
	}
	for _, rule := range []bool{false, true} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/hardlink rule %v", tc.name, rule), func(t *testing.T) {
				if tc.onlyRoot && os.Geteuid() != 0 {
					t.Skip("changing owners needs root")
				}
				defer dirfd.ForceHardlinkRule(rule)()
				root := t.TempDir()
				buildTree(t, root, ownerFixture("coreutils")+ownerFixture("racefree"))
				pinTimes(t, root)
				t.Cleanup(func() { walkChmodDirs(root) })
				before := treeState(t, filepath.Join(root, "racefree"))
				d, err := dirfd.Open(root)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				run(t, "chown", "-R", "-h", tc.arg, filepath.Join(root, "coreutils"))
				err = d.ChownTree("racefree", tc.to.uid, tc.to.gid)
				if rule && errors.Is(err, dirfd.ErrHardLinked) {
					// The rule leaves the hard-linked pair alone: do the
					// same to coreutils' copy to compare the rest.
					for _, n := range []string{"sub/x", "sub/x-link"} {
						var st syscall.Stat_t
						if err := syscall.Lstat(filepath.Join(root, "racefree", n), &st); err != nil {
							t.Fatal(err)
						}
						if err := syscall.Chown(filepath.Join(root, "coreutils", n), int(st.Uid), int(st.Gid)); err != nil {
							t.Fatal(err)
						}
						if err := syscall.Chmod(filepath.Join(root, "coreutils", n), uint32(st.Mode)&0o7777); err != nil {
							t.Fatal(err)
						}
					}
				} else if err != nil {
					t.Fatalf("ChownTree: %v", err)
				}
				want, got := treeState(t, filepath.Join(root, "coreutils")), treeState(t, filepath.Join(root, "racefree"))
				for n, w := range want {
					// chown(1) calls chown(2) even where the owner and
					// group are already right, and the kernel then clears
					// a set-group-ID bit; ChownTree makes no call there
					// (documented), so the object keeps its mode.
					if b := before[n]; b.Uid == w.Uid && b.Gid == w.Gid && b.Type == "file" {
						w.Mode = b.Mode
						want[n] = w
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ChownTree differs from chown -R -h (-chown +ChownTree):\n%s", diff)
				}
			})
		}
	}
}

// chmodCase is a mode change given both as chmod(1)'s argument and as the
// function ChmodTree takes.
type chmodCase struct {
	name string
	arg  string
	mode func(path string, info fs.FileMode) fs.FileMode
}

// setPerm replaces the permission bits and keeps the type, set-ID and
// sticky bits: what chmod(1) does with a numeric mode of up to four digits
// on a directory, and with one of three on anything.
func setPerm(perm fs.FileMode) func(string, fs.FileMode) fs.FileMode {
	return func(_ string, m fs.FileMode) fs.FileMode {
		if m.IsDir() {
			return m&^fs.ModePerm | perm
		}
		return m&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) | perm
	}
}

var chmodCases = []chmodCase{
	{"numeric 750", "750", setPerm(0o750)},
	{"numeric 700", "700", setPerm(0o700)},
	{"g+rwX,o-rwx", "g+rwX,o-rwx", func(_ string, m fs.FileMode) fs.FileMode {
		m |= 0o060
		if m.IsDir() || m&0o111 != 0 {
			m |= 0o010
		}
		return m &^ 0o007
	}},
	{"a+r,u+w", "a+r,u+w", func(_ string, m fs.FileMode) fs.FileMode { return m | 0o444 | 0o200 }},
	{"unchanged", "u+r", func(_ string, m fs.FileMode) fs.FileMode { return m | 0o400 }},
}

// TestChmodTreeMatchesChmodR compares ChmodTree with chmod -R on the same
// fixture, with numeric and symbolic modes and the equivalent mode
// function: modes (set-ID bits included), owners, times, targets and
// hard-link identity must come out the same, and symlinks stay untouched.
func TestChmodTreeMatchesChmodR(t *testing.T) {
	if _, err := exec.LookPath("chmod"); err != nil {
		t.Skip("no chmod(1) to compare with")
	}
	for _, rule := range []bool{false, true} {
		for _, tc := range chmodCases {
			t.Run(fmt.Sprintf("%s/hardlink rule %v", tc.name, rule), func(t *testing.T) {
				defer dirfd.ForceHardlinkRule(rule)()
				root := t.TempDir()
				// No hard links in this fixture: the rule would keep the
				// pair from changing, which chmod(1) does not know of.
				spec := strings.ReplaceAll(ownerFixture("coreutils")+ownerFixture("racefree"), "link coreutils/sub/x-link coreutils/sub/x", "")
				spec = strings.ReplaceAll(spec, "link racefree/sub/x-link racefree/sub/x", "")
				buildTree(t, root, spec)
				pinTimes(t, root)
				t.Cleanup(func() { walkChmodDirs(root) })
				d, err := dirfd.Open(root)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				run(t, "chmod", "-R", tc.arg, filepath.Join(root, "coreutils"))
				err = d.ChmodTree("racefree", func(p string, info fs.FileInfo) fs.FileMode { return tc.mode(p, info.Mode()) })
				if err != nil {
					t.Fatalf("ChmodTree: %v", err)
				}
				want, got := treeState(t, filepath.Join(root, "coreutils")), treeState(t, filepath.Join(root, "racefree"))
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ChmodTree differs from chmod -R %s (-chmod +ChmodTree):\n%s", tc.arg, diff)
				}
			})
		}
	}
}

// walkChmodDirs gives the owner full access to every directory below dir,
// so that t.TempDir can remove a tree a mode change left closed.
func walkChmodDirs(dir string) {
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && e.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

// TestTreeOpsLeaveHardLinkedFilesAloneWithoutProtectedHardlinks pins the
// systemd-tmpfiles rule: where anyone may hard-link anything, a file in
// the tree that has another link (here one outside, as an attacker would
// make to /etc/shadow) is neither chowned nor chmodded, and the call says
// so with ErrHardLinked; the rest of the tree is still changed. Where the
// kernel restricts hard links, the same tree is changed whole.
func TestTreeOpsLeaveHardLinkedFilesAloneWithoutProtectedHardlinks(t *testing.T) {
	ops := []struct {
		name    string
		run     func(d *dirfd.Dir) error
		changed func(st *syscall.Stat_t) bool
	}{
		{"ChmodTree", func(d *dirfd.Dir) error {
			return d.ChmodTree("tree", func(_ string, info fs.FileInfo) fs.FileMode { return info.Mode()&^fs.ModePerm | 0o777 })
		}, func(st *syscall.Stat_t) bool { return st.Mode&0o777 == 0o777 }},
		{"ChownTree", func(d *dirfd.Dir) error {
			return d.ChownTree("tree", -1, 4343)
		}, func(st *syscall.Stat_t) bool { return st.Gid == 4343 }},
	}
	for _, op := range ops {
		for _, rule := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/rule %v", op.name, rule), func(t *testing.T) {
				if op.name == "ChownTree" && os.Geteuid() != 0 {
					t.Skip("changing groups at will needs root")
				}
				defer dirfd.ForceHardlinkRule(rule)()
				root := t.TempDir()
				buildTree(t, root, `
					dir tree
					file tree/mine m
					chmod tree/mine 600
					file shadow secret
					chmod shadow 600
					link tree/innocent shadow
				`)
				d, err := dirfd.Open(root)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				err = op.run(d)
				var shadow, mine syscall.Stat_t
				if err := syscall.Lstat(filepath.Join(root, "shadow"), &shadow); err != nil {
					t.Fatal(err)
				}
				if err := syscall.Lstat(filepath.Join(root, "tree", "mine"), &mine); err != nil {
					t.Fatal(err)
				}
				if !op.changed(&mine) {
					t.Errorf("the tree's own file was not changed (err %v)", err)
				}
				if rule {
					if op.changed(&shadow) {
						t.Errorf("changed the file hard-linked from outside the tree")
					}
					if !errors.Is(err, dirfd.ErrHardLinked) || !strings.Contains(err.Error(), "tree/innocent") {
						t.Errorf("err = %v, want ErrHardLinked naming tree/innocent", err)
					}
				} else if err != nil || !op.changed(&shadow) {
					t.Errorf("with hard links protected the linked file is the tree's to change: err %v", err)
				}
			})
		}
	}
}

// TestTreeProgressCountsEveryObject: TreeProgress sees a running count of
// every object a tree operation examines, changed or not, symlinks
// included, ending at the tree's size.
func TestTreeProgressCountsEveryObject(t *testing.T) {
	root := t.TempDir()
	for _, dir := range []string{"t/a", "t/b/c"} {
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"t/f", "t/a/g", "t/b/c/h"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("f", filepath.Join(root, "t/l")); err != nil {
		t.Fatal(err)
	}
	const objects = 8 // t, a, b, c, f, g, h, l
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for name, op := range map[string]func(dirfd.WalkOption) error{
		"ChownTree": func(o dirfd.WalkOption) error { return d.ChownTree("t", -1, os.Getgid(), o) },
		"ChmodTree": func(o dirfd.WalkOption) error {
			return d.ChmodTree("t", func(_ string, fi fs.FileInfo) fs.FileMode { return fi.Mode() }, o)
		},
	} {
		var seen []int
		if err := op(dirfd.TreeProgress(func(n int) { seen = append(seen, n) })); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(seen) != objects || seen[0] != 1 || seen[len(seen)-1] != objects {
			t.Errorf("%s: progress %v, want 1 to %d", name, seen, objects)
		}
	}
}
