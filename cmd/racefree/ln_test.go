package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

func TestLn(t *testing.T) {
	for _, tc := range lnCases() {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, "") })
	}
}

func lnCases() []cmdCase {
	j := filepath.Join
	return []cmdCase{
		{name: "one target links into the current directory",
			tree: []string{"dir a"}, args: []string{"ln", "-s", "a/t"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "t"), "a/t") }},
		{name: "target and link",
			args:  []string{"ln", "-s", "some/where", "l"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "l"), "some/where") }},
		{name: "link in another directory",
			tree: []string{"dir d"}, args: []string{"ln", "-s", "../x", "d/l"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "d/l"), "../x") }},
		{name: "several targets into a directory",
			tree: []string{"dir d"}, args: []string{"ln", "-s", "x/t1", "/abs/t2", "t3/", "d"},
			check: func(t *testing.T, r string) {
				wantLink(t, j(r, "d/t1"), "x/t1")
				wantLink(t, j(r, "d/t2"), "/abs/t2")
				wantLink(t, j(r, "d/t3"), "t3/")
			}},
		{name: "a link to a directory is a directory to link into",
			tree: []string{"dir d", "symlink cur d"}, args: []string{"ln", "-s", "t", "cur"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "d/t"), "t"); wantLink(t, j(r, "cur"), "d") }},
		{name: "-T replaces a link to a directory itself",
			tree: []string{"dir v1", "dir v2", "symlink cur v1"}, args: []string{"ln", "-sfT", "v2", "cur"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "cur"), "v2"); wantMissing(t, j(r, "v1/v2")) }},
		{name: "flags after operands and long names",
			args:  []string{"ln", "x", "l", "--symbolic", "--force", "--no-target-directory"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "l"), "x") }},
		{name: "-f replaces a symlink",
			tree: []string{"symlink l old"}, args: []string{"ln", "-sf", "new", "l"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "l"), "new") }},
		{name: "-f replaces a regular file",
			tree: []string{"file l data"}, args: []string{"ln", "-s", "-f", "new", "l"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "l"), "new") }},
		{name: "-f replaces several links in a directory",
			tree: []string{"dir d", "symlink d/t1 old", "file d/t2", "symlink d/t3 old"},
			args: []string{"ln", "-sf", "n/t1", "n/t2", "n/t3", "d"},
			check: func(t *testing.T, r string) {
				for _, n := range []string{"t1", "t2", "t3"} {
					wantLink(t, j(r, "d", n), "n/"+n)
				}
				wantNoStaging(t, j(r, "d"))
			}},
		{name: "without -f an existing link is kept",
			tree: []string{"symlink l old"}, args: []string{"ln", "-s", "new", "l"},
			code: 1, stderr: []string{"l: file exists"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "l"), "old") }},
		{name: "a failed link does not stop the others",
			tree: []string{"dir d", "file d/t2 keep"}, args: []string{"ln", "-s", "t1", "t2", "t3", "d"},
			code: 1, stderr: []string{"d/t2: file exists"},
			check: func(t *testing.T, r string) {
				wantLink(t, j(r, "d/t1"), "t1")
				wantContent(t, j(r, "d/t2"), "keep")
				wantLink(t, j(r, "d/t3"), "t3")
			}},
		{name: "-f never replaces a directory",
			tree: []string{"dir d/t/sub"}, args: []string{"ln", "-sf", "x/t", "d"},
			code: 1, stderr: []string{"d/t: is a directory"},
			check: func(t *testing.T, r string) {
				if fi, err := os.Lstat(j(r, "d/t/sub")); err != nil || !fi.IsDir() {
					t.Errorf("directory changed: %v", err)
				}
				wantNoStaging(t, j(r, "d"))
			}},
		{name: "-T -f never replaces a directory",
			tree: []string{"dir d"}, args: []string{"ln", "-sfT", "x", "d"},
			code: 1, stderr: []string{"d: is a directory"},
			check: func(t *testing.T, r string) {
				if fi, err := os.Lstat(j(r, "d")); err != nil || !fi.IsDir() {
					t.Errorf("directory changed: %v", err)
				}
			}},
		{name: "several targets need a directory",
			tree: []string{"file f"}, args: []string{"ln", "-s", "a", "b", "f"},
			code: 1, stderr: []string{"f: not a directory"}},
		{name: "a LINK ending in / must be a directory",
			args: []string{"ln", "-s", "a", "nodir/"}, code: 1, stderr: []string{"nodir/: not a directory"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "nodir")) }},
		{name: "-T and a LINK ending in /",
			tree: []string{"dir d"}, args: []string{"ln", "-sT", "a", "d/"},
			code: 1, stderr: []string{"d/: with -T, LINK names the link itself"}},
		{name: "a missing directory for LINK",
			args: []string{"ln", "-s", "a", "no/l"}, code: 1, stderr: []string{"no/l: no such file or directory"}},
		{name: "a target without a name to link into a directory",
			tree: []string{"dir d"}, args: []string{"ln", "-s", "..", "d"},
			code: 1, stderr: []string{"..: has no last component"}},

		{name: "hard link",
			tree: []string{"file f data"}, args: []string{"ln", "f", "g"},
			check: func(t *testing.T, r string) { wantSameFile(t, j(r, "f"), j(r, "g")) }},
		{name: "hard links into a directory from elsewhere",
			tree: []string{"dir a", "dir d", "file a/f1", "file a/f2"}, args: []string{"ln", "a/f1", "a/f2", "d"},
			check: func(t *testing.T, r string) {
				wantSameFile(t, j(r, "a/f1"), j(r, "d/f1"))
				wantSameFile(t, j(r, "a/f2"), j(r, "d/f2"))
			}},
		{name: "hard link of a symlink links the symlink itself",
			tree: []string{"file f", "symlink l f"}, args: []string{"ln", "l", "l2"},
			check: func(t *testing.T, r string) { wantLink(t, j(r, "l2"), "f"); wantSameFile(t, j(r, "l"), j(r, "l2")) }},
		{name: "hard link without -f over an existing name",
			tree: []string{"file f new", "file g old"}, args: []string{"ln", "f", "g"},
			code: 1, stderr: []string{"g: file exists"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "g"), "old") }},
		{name: "hard link -f replaces",
			tree: []string{"file f new", "file g old"}, args: []string{"ln", "-f", "f", "g"},
			check: func(t *testing.T, r string) { wantSameFile(t, j(r, "f"), j(r, "g")) }},
		{name: "hard link -f from another directory",
			tree: []string{"dir a", "dir b", "file a/f new", "file b/g old"}, args: []string{"ln", "-f", "a/f", "b/g"},
			check: func(t *testing.T, r string) { wantSameFile(t, j(r, "a/f"), j(r, "b/g")); wantNoStaging(t, j(r, "b")) }},
		{name: "hard link -f of a file to itself",
			tree: []string{"file f data"}, args: []string{"ln", "-f", "f", "f"},
			check: func(t *testing.T, r string) { wantContent(t, j(r, "f"), "data") }},
		{name: "hard link of a directory",
			tree: []string{"dir d"}, args: []string{"ln", "d", "e"},
			code: 1, stderr: []string{"d: hard link not allowed for directory"},
			check: func(t *testing.T, r string) { wantMissing(t, j(r, "e")) }},
		{name: "hard link of a missing target",
			args: []string{"ln", "nope", "e"}, code: 1, stderr: []string{"nope: no such file or directory"}},

		{name: "no operands", args: []string{"ln", "-s"}, code: 2, stderr: []string{"missing TARGET"}},
		{name: "-T with three operands", args: []string{"ln", "-sT", "a", "b", "c"}, code: 2, stderr: []string{"-T takes exactly TARGET and LINK"}},
		{name: "-T with one operand", args: []string{"ln", "-T", "a"}, code: 2},
		{name: "unknown flag", args: []string{"ln", "-sx", "a", "b"}, code: 2, stderr: []string{"flag provided but not defined"}},
		{name: "empty operand", args: []string{"ln", "-s", "", "b"}, code: 2, stderr: []string{"empty operand"}},
	}
}

func TestLnHelp(t *testing.T) {
	r := racefree(t, t.TempDir(), nil, "ln", "--help")
	r.expect(t, 0, []string{"usage: racefree ln [-s] [-f] [-T] TARGET... LINK|DIR", "-f", "-T"}, nil)
	r = racefree(t, t.TempDir(), nil, "help")
	r.expect(t, 0, []string{"ln [-s]", "mv [--exchange", "rm [-r]", "write [--mode M] DEST"}, nil)
}

// nameWatcher lstat's names in a loop and counts the times one of them
// was missing: a reader's view of a replacement.
type nameWatcher struct {
	paths   []string
	missing atomic.Int64
	reads   atomic.Int64
	stop    atomic.Bool
	wg      sync.WaitGroup
}

func watchNames(paths ...string) *nameWatcher {
	w := &nameWatcher{paths: paths}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for !w.stop.Load() {
			for _, p := range w.paths {
				if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
					w.missing.Add(1)
				}
				w.reads.Add(1)
			}
		}
	}()
	return w
}

// halt stops the watcher and returns how often a name was missing.
func (w *nameWatcher) halt() (missing, reads int64) {
	w.stop.Store(true)
	w.wg.Wait()
	return w.missing.Load(), w.reads.Load()
}

// TestLnForceIsAtomicPerLink replaces three links in one directory over and
// over while a reader looks at them: racefree's ln -sf must never let the
// reader find a name missing. The same reader must catch the naive
// replacement (remove, then symlink, as coreutils ln -f does), or the
// harness proves nothing.
func TestLnForceIsAtomicPerLink(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, "dir d", "symlink d/t1 a/t1", "symlink d/t2 a/t2", "symlink d/t3 a/t3")
	var paths []string
	for _, n := range []string{"t1", "t2", "t3"} {
		paths = append(paths, filepath.Join(root, "d", n))
	}

	t.Run("naive control", func(t *testing.T) {
		w := watchNames(paths...)
		i := 0
		for ; i < 100000 && w.missing.Load() == 0; i++ {
			for _, p := range paths {
				os.Remove(p)
				if err := os.Symlink("n/"+filepath.Base(p), p); err != nil {
					w.halt()
					t.Fatal(err)
				}
			}
		}
		missing, reads := w.halt()
		if missing == 0 {
			t.Fatalf("inconclusive: the reader never saw the naive replacement's gap (%d rounds, %d reads); the harness cannot judge racefree", i, reads)
		}
		t.Logf("naive replacement caught in round %d (%d reads)", i, reads)
	})

	runs := 50
	if testing.Short() {
		runs = 10
	}
	w := watchNames(paths...)
	for i := range runs {
		prefix := []string{"a", "b"}[i%2]
		r := racefree(t, root, nil, "ln", "-sf", prefix+"/t1", prefix+"/t2", prefix+"/t3", "d")
		if r.code != 0 {
			w.halt()
			t.Fatalf("run %d: exit %d: %s", i, r.code, r.stderr)
		}
	}
	missing, reads := w.halt()
	t.Logf("%d reads during %d runs of racefree ln -sf", reads, runs)
	if missing != 0 {
		t.Errorf("a reader found a link missing %d times in %d reads during racefree ln -sf", missing, reads)
	}
	for _, p := range paths {
		wantLink(t, p, []string{"a", "b"}[(runs-1)%2]+"/"+filepath.Base(p))
	}
	wantNoStaging(t, filepath.Join(root, "d"))
}
