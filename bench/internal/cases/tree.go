//go:build linux

package cases

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// TreeEntries are the sizes (files, 100 to a directory) of the trees the
// tree operations walk, chown and copy.
var TreeEntries = []int{100, 100_000}

// treeRun is one runner of a tree operation: its directory, the tree it
// works on (a private one, or Install's shared source for copies) and the
// handles every implementation needs.
type treeRun struct {
	dir  string
	tree string // the tree's path
	n    int
	d    *dirfd.Dir // on the directory holding the tree
	work *dirfd.Dir // on dir, where copies go
	root *os.Root
	name string // the tree's name in d and root
}

func (r *treeRun) close() {
	for _, d := range []*dirfd.Dir{r.d, r.work} {
		if d != nil {
			d.Close()
		}
	}
	if r.root != nil {
		r.root.Close()
	}
	os.RemoveAll(r.dir)
}

// startTree makes a runner: with shared, on Install's source tree of n
// files (left as it is); otherwise on a private tree of n empty files.
func startTree(root, prefix string, n int, shared bool) (*treeRun, error) {
	dir, err := workDir(root, prefix)
	if err != nil {
		return nil, err
	}
	r := &treeRun{dir: dir, n: n, name: "tree", tree: filepath.Join(dir, "tree")}
	if shared {
		src, err := Source(root, n)
		if err != nil {
			r.close()
			return nil, err
		}
		r.tree, r.name = src, filepath.Base(src)
	} else {
		fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = buildEmptyTree(fd, "tree", n)
			unix.Close(fd)
		}
		if err != nil {
			r.close()
			return nil, err
		}
	}
	parent := filepath.Dir(r.tree)
	if r.d, err = dirfd.Open(parent); err == nil {
		r.work, err = dirfd.Open(dir)
	}
	if err == nil {
		r.root, err = os.OpenRoot(parent)
	}
	if err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// walkImpl walks the tree once per operation, touching every entry's name
// and type as a caller deciding what to do with it would.
func walkImpl(name, title string, walk func(r *treeRun, visit func(name string, typ fs.FileMode)) error) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, n int) (*Runner, error) {
		r, err := startTree(root, "walk", n, false)
		if err != nil {
			return nil, err
		}
		var seen int
		return &Runner{
			Op: func(int) error {
				seen = 0
				return walk(r, func(string, fs.FileMode) { seen++ })
			},
			Check: func(int) error {
				if want := r.n + (r.n+filesPerDir-1)/filesPerDir + 1; seen != want {
					return fmt.Errorf("visited %d entries, want %d", seen, want)
				}
				return nil
			},
			Close: r.close,
		}, nil
	}}
}

var walkDirOp = &Op{
	Name:    "WalkDir",
	Title:   "a walk over a tree of N empty files, 100 to a directory, looking at each entry's name and type",
	Axis:    "entries",
	Params:  ints(TreeEntries...),
	Counted: 1,
	Impls: []Impl{
		walkImpl("racefree", "racefree `Dir.WalkDir`", func(r *treeRun, visit func(string, fs.FileMode)) error {
			return r.d.WalkDir(r.name, func(p string, e *dirfd.Entry, err error) error {
				if err != nil {
					return err
				}
				visit(e.Name(), e.Type())
				return nil
			})
		}),
		walkImpl("filepath", "`filepath.WalkDir(path)`", func(r *treeRun, visit func(string, fs.FileMode)) error {
			return filepath.WalkDir(r.tree, func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				visit(e.Name(), e.Type())
				return nil
			})
		}),
		walkImpl("osroot-fs", "`fs.WalkDir(os.Root.FS())`", func(r *treeRun, visit func(string, fs.FileMode)) error {
			return fs.WalkDir(r.root.FS(), r.name, func(p string, e fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				visit(e.Name(), e.Type())
				return nil
			})
		}),
	},
}

// chownImpl gives every object of the tree group gidOf(i) in operation i.
func chownImpl(name, title string, gidOf func(i int) int, chown func(r *treeRun, gid int) error) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, n int) (*Runner, error) {
		if os.Geteuid() != 0 {
			return nil, errors.New("changing groups needs root")
		}
		r, err := startTree(root, "chown", n, false)
		if err != nil {
			return nil, err
		}
		return &Runner{
			Op: func(i int) error { return chown(r, gidOf(i)) },
			Check: func(i int) error {
				var st unix.Stat_t
				p, _ := treeFile(r.n - 1)
				if err := unix.Lstat(filepath.Join(r.tree, p), &st); err != nil {
					return err
				}
				if int(st.Gid) != gidOf(i) {
					return fmt.Errorf("group %d after operation %d", st.Gid, i)
				}
				return nil
			},
			Close: r.close,
		}, nil
	}}
}

// chownImpls are ChownTree's implementations, each giving the tree the
// group gidOf(i) in operation i.
func chownImpls(gidOf func(int) int) []Impl {
	return []Impl{
		chownImpl("racefree", "racefree `Dir.ChownTree`", gidOf, func(r *treeRun, gid int) error {
			return r.d.ChownTree(r.name, -1, gid)
		}),
		chownImpl("chown-R", "`chown -R -h` (coreutils)", gidOf, func(r *treeRun, gid int) error {
			return run("chown", "-R", "-h", ":"+strconv.Itoa(gid), r.tree)
		}),
		chownImpl("kubelet", "`filepath.Walk` + `os.Lchown` where the group differs (kubelet's fsGroup walk)", gidOf, func(r *treeRun, gid int) error {
			return filepath.Walk(r.tree, func(p string, info fs.FileInfo, err error) error {
				if err != nil {
					return err
				}
				if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Gid) == gid {
					return nil
				}
				return os.Lchown(p, -1, gid)
			})
		}),
	}
}

var chownTreeOp = &Op{
	Name:    "ChownTree",
	Title:   "chown -R -h of a tree of N empty files, 100 to a directory, to another group (every object changes)",
	Axis:    "entries",
	Params:  ints(TreeEntries...),
	Counted: 1,
	Impls:   chownImpls(func(i int) int { return 1000 + i%2 }),
}

var chownTreeOwnedOp = &Op{
	Name:    "ChownTreeOwned",
	Title:   "chown -R -h of a tree of N empty files, 100 to a directory, that has the group already (a kubelet re-run)",
	Axis:    "entries",
	Params:  ints(TreeEntries...),
	Counted: 1,
	Impls:   chownImpls(func(int) int { return 0 }),
}

// copyImpl copies Install's source tree of N files to a fresh name per
// operation; the copies of earlier operations are removed untimed.
func copyImpl(name, title string, copyTree func(r *treeRun, dst string) error) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, n int) (*Runner, error) {
		r, err := startTree(root, "copy", n, true)
		if err != nil {
			return nil, err
		}
		out, err := os.OpenRoot(r.dir)
		if err != nil {
			r.close()
			return nil, err
		}
		ns := names{}
		return &Runner{
			Prepare: func(i int) error {
				if i > 0 {
					if err := out.RemoveAll(ns[i-1]); err != nil {
						return err
					}
				}
				ns[i] = "copy" + strconv.Itoa(i)
				return nil
			},
			Op: func(i int) error { return copyTree(r, filepath.Join(r.dir, ns[i])) },
			Check: func(i int) error {
				dir, file := treeFile(r.n - 1)
				data, err := os.ReadFile(filepath.Join(r.dir, ns[i], dir, file))
				if err == nil && string(data) != fmt.Sprintf("file %d of the release\n", r.n-1) {
					err = fmt.Errorf("last file holds %q", data)
				}
				return err
			},
			Batch: 1,
			Close: func() { out.Close(); r.close() },
		}, nil
	}}
}

var copyTreeOp = &Op{
	Name:    "CopyTree",
	Title:   "cp -a of a tree of N small files, 100 to a directory, to a new name",
	Axis:    "entries",
	Params:  ints(TreeEntries...),
	Counted: 1,
	Impls: []Impl{
		copyImpl("racefree", "racefree `CopyTree`", func(r *treeRun, dst string) error {
			return dirfd.CopyTree(r.work, filepath.Base(dst), r.d, r.name)
		}),
		copyImpl("cp-a", "`cp -a` (coreutils)", func(r *treeRun, dst string) error {
			return run("cp", "-a", r.tree, dst)
		}),
	},
}

// run runs a command, with its output in the error when it fails.
func run(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return nil
}
