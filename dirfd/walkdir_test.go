//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// walkFixture has every kind of entry a walk meets: nested directories,
// files, symlinks to a directory (inside and outside), to a file, dangling,
// and an empty directory.
const walkFixture = `
	dir top
	dir top/a
	file top/a/f1 one
	file top/a/f2 two
	dir top/a/b
	file top/a/b/deep deep
	dir top/a/empty
	symlink top/a/tob b
	symlink top/a/out ../../outside
	symlink top/a/dangling nowhere
	dir top/c
	file top/c/g g
	file top/z last
	dir outside
	file outside/secret s
`

// walkLine is one call of a WalkDirFunc: what filepath.WalkDir and
// WalkDir must agree on.
type walkLine struct {
	Path string
	Type fs.FileMode
	Err  bool
}

func recordWalk(lines *[]walkLine, skip map[string]error) func(string, fs.DirEntry, error) error {
	return func(p string, e fs.DirEntry, err error) error {
		l := walkLine{Path: filepath.ToSlash(p), Err: err != nil}
		if e != nil {
			l.Type = e.Type()
		}
		*lines = append(*lines, l)
		if err != nil {
			return nil
		}
		return skip[l.Path]
	}
}

// TestWalkDirVisitsLikeFilepathWalkDir compares the calls WalkDir makes
// with filepath.WalkDir's on the same tree, for several roots and uses of
// SkipDir and SkipAll: same paths, same order, same types, errors at the
// same places.
func TestWalkDirVisitsLikeFilepathWalkDir(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, walkFixture)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, tc := range []struct {
		name, root string
		skip       map[string]error
	}{
		{name: "whole tree", root: "top"},
		{name: "dot", root: "."},
		{name: "subdirectory", root: "top/a"},
		{name: "trailing slash", root: "top/a/"},
		{name: "a file", root: "top/z"},
		{name: "a symlink to a directory is not entered", root: "top/a/tob"},
		{name: "missing", root: "top/nothing"},
		{name: "SkipDir on a directory", root: "top", skip: map[string]error{"top/a": fs.SkipDir}},
		{name: "SkipDir on a file skips the rest of its directory", root: "top", skip: map[string]error{"top/a/f1": fs.SkipDir}},
		{name: "SkipAll", root: "top", skip: map[string]error{"top/a/b": fs.SkipAll}},
		{name: "SkipDir on the root", root: "top", skip: map[string]error{"top": fs.SkipDir}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got []walkLine
			werr := filepath.WalkDir(filepath.Join(root, tc.root), recordWalk(&want, nil))
			for i := range want {
				want[i].Path = strings.TrimPrefix(strings.TrimPrefix(want[i].Path, filepath.ToSlash(root)), "/")
				if want[i].Path == "" {
					want[i].Path = "."
				}
			}
			// The expected calls with the skip applied come from
			// filepath.WalkDir too, given the same skip by path.
			if tc.skip != nil {
				want = nil
				skip := map[string]error{}
				for k, v := range tc.skip {
					skip[filepath.ToSlash(filepath.Join(root, k))] = v
				}
				werr = filepath.WalkDir(filepath.Join(root, tc.root), recordWalk(&want, skip))
				for i := range want {
					want[i].Path = strings.TrimPrefix(want[i].Path, filepath.ToSlash(root)+"/")
				}
			}
			gerr := d.WalkDir(tc.root, func(p string, e *dirfd.Entry, err error) error {
				var de fs.DirEntry
				if e != nil {
					de = e
				}
				return recordWalk(&got, tc.skip)(p, de, err)
			})
			if tc.root == "top/a/" {
				// filepath.WalkDir cleans nothing and joins with the
				// separator; path.Join cleans the root's slash away.
				for i := range want {
					want[i].Path = path.Clean(want[i].Path)
				}
				for i := range got {
					got[i].Path = path.Clean(got[i].Path)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("calls differ from filepath.WalkDir (-want +got):\n%s", diff)
			}
			if (werr == nil) != (gerr == nil) {
				t.Errorf("WalkDir returned %v, filepath.WalkDir %v", gerr, werr)
			}
		})
	}
}

// TestWalkDirNamesThatLeaveFailWithErrEscape: the name given is resolved
// like any other, so one that leaves the tree is refused before anything is
// visited.
func TestWalkDirNamesThatLeaveFailWithErrEscape(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, walkFixture)
	d, err := dirfd.Open(filepath.Join(root, "top"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, name := range []string{"..", "../outside", "a/out/", "/etc"} {
		t.Run(name, func(t *testing.T) {
			var calls int
			err := d.WalkDir(name, func(p string, e *dirfd.Entry, err error) error {
				calls++
				if e != nil {
					t.Errorf("visited %s", p)
				}
				return err
			})
			if !errors.Is(err, dirfd.ErrEscape) || calls != 1 {
				t.Errorf("WalkDir(%q) = %v after %d calls, want ErrEscape after 1", name, err, calls)
			}
		})
	}
}

// TestWalkDirEntryActsOnTheListedObject checks Info, Parent and Handle
// against the object seen by path (no attacker here): same inode, Info
// lstat-like, Parent usable for the entry's own name.
func TestWalkDirEntryActsOnTheListedObject(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, walkFixture)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var parents []*dirfd.Dir
	err = d.WalkDir("top", func(p string, e *dirfd.Entry, err error) error {
		if err != nil {
			return err
		}
		want, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if !os.SameFile(info, want) || info.Mode() != want.Mode() || info.Name() != want.Name() {
			t.Errorf("%s: Info %v %v, want the object lstat sees: %v %v", p, info.Name(), info.Mode(), want.Name(), want.Mode())
		}
		if e.Type() != want.Mode().Type() || e.IsDir() != want.IsDir() || e.Name() != want.Name() {
			t.Errorf("%s: Type %v IsDir %v Name %q, want %v %v %q", p, e.Type(), e.IsDir(), e.Name(), want.Mode().Type(), want.IsDir(), want.Name())
		}
		viaParent, err := e.Parent().Lstat(e.Name())
		if err != nil {
			return err
		}
		if !os.SameFile(viaParent, want) {
			t.Errorf("%s: Parent().Lstat(Name()) is another object", p)
		}
		h, err := e.Handle()
		if err != nil {
			return err
		}
		hi, err := h.Stat()
		h.Close()
		if err != nil {
			return err
		}
		if !os.SameFile(hi, want) || hi.Mode().Type() != want.Mode().Type() {
			t.Errorf("%s: Handle is another object (%v)", p, hi.Mode())
		}
		parents = append(parents, e.Parent())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// After the walk the Parent views are closed: kept by mistake, they
	// fail instead of acting through a reused descriptor number.
	for _, p := range parents {
		if _, err := p.Lstat("."); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("Parent() used after the walk: %v, want fs.ErrClosed", err)
		}
	}
}

func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1
}

// TestWalkDirDeepTreesHoldBoundedDescriptors walks chains 500 and 10,000
// levels deep (raBuildDeep's, three files a level) (paths far past PATH_MAX, where filepath.WalkDir fails), and
// counts the process's descriptors at every entry: never more than the
// walk's bound of 16 above what was open before, plus Parent's one.
func TestWalkDirDeepTreesHoldBoundedDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	root := t.TempDir()
	rfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	depths := []int{500, 10_000}
	if testing.Short() {
		depths = depths[:1]
	}
	for _, depth := range depths {
		t.Run(fmt.Sprint(depth), func(t *testing.T) {
			name := fmt.Sprint("chain", depth)
			raBuildDeep(t, rfd, name, depth)
			defer d.RemoveAll(name)
			base := openFds(t)
			var dirs, files, peak int
			err := d.WalkDir(name, func(p string, e *dirfd.Entry, err error) error {
				if err != nil {
					return err
				}
				if e.IsDir() {
					dirs++
				} else {
					files++
				}
				if dirs%97 == 0 || dirs == depth {
					peak = max(peak, openFds(t)-base)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if dirs != depth || files != 3*depth {
				t.Errorf("visited %d directories and %d files, want %d and %d", dirs, files, depth, 3*depth)
			}
			if peak > 16 {
				t.Errorf("the walk held up to %d descriptors, want at most 16", peak)
			}
			if n := openFds(t) - base; n != 0 {
				t.Errorf("%d descriptors left open after the walk", n)
			}
		})
	}
}

// TestWalkDirStopsWhenADirectoryWasMovedOut: deep in a chain (past the
// levels the walk holds), the directory at level 1 is moved out of the
// tree, next to a sentinel directory. Climbing back, the walk must notice
// that ".." is no longer where it came from, stop with ErrChanged, and
// visit nothing of the sentinel's directory.
func TestWalkDirStopsWhenADirectoryWasMovedOut(t *testing.T) {
	tmp := t.TempDir()
	rfd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rfd)
	raBuildDeep(t, rfd, "tree", 40)
	outside := filepath.Join(tmp, "outside")
	buildTree(t, tmp, "dir outside\nfile outside/secret s\ndir outside/sub\nfile outside/sub/f x")
	d, err := dirfd.Open(filepath.Join(tmp, "tree"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var moved bool
	var visited []string
	err = d.WalkDir(".", func(p string, e *dirfd.Entry, err error) error {
		if err != nil {
			return err
		}
		visited = append(visited, p)
		if strings.Count(p, "/") == 30 && !moved {
			moved = true
			if err := os.Rename(filepath.Join(tmp, "tree", "d"), filepath.Join(outside, "sub", "moved")); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	})
	if !moved || !errors.Is(err, dirfd.ErrChanged) {
		t.Fatalf("WalkDir = %v (moved %v), want ErrChanged", err, moved)
	}
	for _, p := range visited {
		// The chain's own names are d, f0, f1 and f2.
		if base := path.Base(p); base == "secret" || base == "sub" || base == "f" || base == "moved" {
			t.Errorf("visited %s, in the sentinel's directory", p)
		}
	}
}
