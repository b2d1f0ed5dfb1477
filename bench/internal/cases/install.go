//go:build linux

package cases

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/staging"
)

// Source is root/src-<n>, a tree of n small files (filesPerDir to a
// directory) that Install copies; it is built the first time.
func Source(root string, n int) (string, error) {
	src := filepath.Join(root, fmt.Sprintf("src-%d", n))
	if _, err := os.Stat(src); err == nil {
		return src, nil
	}
	// Built aside and renamed, so that a half-built tree is never taken
	// for a whole one.
	tmp := src + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	for i := range n {
		dir, file := treeFile(i)
		if i%filesPerDir == 0 {
			if err := os.MkdirAll(filepath.Join(tmp, dir), 0o755); err != nil {
				return "", err
			}
		}
		data := fmt.Appendf(nil, "file %d of the release\n", i)
		if err := os.WriteFile(filepath.Join(tmp, dir, file), data, 0o644); err != nil {
			return "", err
		}
	}
	return src, os.Rename(tmp, src)
}

// TreeWriter is what CopyTree writes through: a *dirfd.Dir (the stage
// Install hands to build) or a plain directory path.
type TreeWriter interface {
	Mkdir(name string, perm fs.FileMode) error
	Create(name string) (*os.File, error)
}

// PathDir writes below a path with plain os calls.
type PathDir string

// Mkdir creates name below p.
func (p PathDir) Mkdir(name string, perm fs.FileMode) error {
	return os.Mkdir(filepath.Join(string(p), name), perm)
}

// Create creates or truncates name below p.
func (p PathDir) Create(name string) (*os.File, error) {
	return os.Create(filepath.Join(string(p), name))
}

// overwriteDir is PathDir where directories may exist already.
type overwriteDir string

func (p overwriteDir) Mkdir(name string, perm fs.FileMode) error {
	err := os.Mkdir(filepath.Join(string(p), name), perm)
	if os.IsExist(err) {
		return nil
	}
	return err
}

func (p overwriteDir) Create(name string) (*os.File, error) { return PathDir(p).Create(name) }

// CopyTree copies the tree at src/rel into w, the same way for every
// implementation, so that they differ only in how the copy is published.
func CopyTree(w TreeWriter, src, rel string) error {
	ents, err := os.ReadDir(filepath.Join(src, rel))
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := filepath.Join(rel, e.Name())
		if e.IsDir() {
			if err := w.Mkdir(name, 0o755); err != nil {
				return err
			}
			if err := CopyTree(w, src, name); err != nil {
				return err
			}
			continue
		}
		in, err := os.Open(filepath.Join(src, name))
		if err != nil {
			return err
		}
		out, err := w.Create(name)
		if err != nil {
			in.Close()
			return err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Syncfs flushes the filesystem holding path.
func Syncfs(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// renameInto publishes work/fresh as work/live the way scripts do: move
// the old tree aside, move the new one in, remove the old one. Between the
// two renames the name is missing; that is the window returned.
func renameInto(work string) (time.Duration, error) {
	live, old := filepath.Join(work, "live"), filepath.Join(work, "old")
	start := time.Now()
	if err := os.Rename(live, old); err != nil {
		return 0, err
	}
	if err := os.Rename(filepath.Join(work, "fresh"), live); err != nil {
		return 0, err
	}
	window := time.Since(start)
	return window, os.RemoveAll(old)
}

// copyFresh copies src to work/fresh with CopyTree.
func copyFresh(work, src string) error {
	fresh := filepath.Join(work, "fresh")
	if err := os.Mkdir(fresh, 0o755); err != nil {
		return err
	}
	return CopyTree(PathDir(fresh), src, ".")
}

// installRun replaces work/live with a copy of src per operation.
type installRun struct {
	work, src string
	n         int        // files in src
	d         *dirfd.Dir // on work
	window    time.Duration
}

// installImpl: install replaces work/live with a copy of src and returns
// how long the name was in transition (missing, or partly written).
func installImpl(name, title string, install func(r *installRun) (time.Duration, error)) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, n int) (*Runner, error) {
		src, err := Source(root, n)
		if err != nil {
			return nil, err
		}
		work, err := workDir(root, "install")
		if err != nil {
			return nil, err
		}
		r := &installRun{work: work, src: src, n: n}
		live := filepath.Join(work, "live")
		if err = os.Mkdir(live, 0o755); err == nil {
			err = CopyTree(PathDir(live), src, ".")
		}
		if err == nil {
			err = r.stale()
		}
		if err == nil {
			r.d, err = dirfd.Open(work)
		}
		cleanup := func() {
			if r.d != nil {
				r.d.Close()
			}
			os.RemoveAll(work)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
		runner := &Runner{
			Op: func(int) error {
				w, err := install(r)
				r.window += w
				return err
			},
			Check: func(int) error {
				if err := r.check(); err != nil {
					return err
				}
				return r.stale()
			},
			Metrics: func(ops int) (map[string]float64, error) {
				return map[string]float64{"window-ns/op": float64(r.window.Nanoseconds()) / float64(ops)}, nil
			},
			Close: cleanup,
		}
		if name == "racefree" {
			// Install's window is its exchange alone, timed apart.
			runner.Metrics = func(int) (map[string]float64, error) {
				t, err := r.exchangeTime()
				return map[string]float64{"window-ns/op": float64(t.Nanoseconds())}, err
			}
		}
		return runner, nil
	}}
}

// stale makes live differ from src in its first and last file, so that
// only an operation that replaces live passes the next check: the set-up
// leaves live stale, and so does every check (which benchmarks never run)
// once it has looked.
func (r *installRun) stale() error {
	for _, i := range []int{0, r.n - 1} {
		dir, file := treeFile(i)
		if err := os.WriteFile(filepath.Join(r.work, "live", dir, file), []byte("stale\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// check reports whether work holds live alone, a whole copy of src (and
// the empty stage the racefree Dir keeps there until it is closed).
func (r *installRun) check() error {
	ents, err := os.ReadDir(r.work)
	ents = slices.DeleteFunc(ents, func(e os.DirEntry) bool {
		var st unix.Stat_t
		p := filepath.Join(r.work, e.Name())
		in, _ := os.ReadDir(p)
		return strings.HasPrefix(e.Name(), staging.Prefix) && unix.Lstat(p, &st) == nil &&
			staging.Live(uint64(st.Dev), st.Ino) && len(in) == 0
	})
	if err != nil || len(ents) != 1 || ents[0].Name() != "live" {
		return fmt.Errorf("work holds %v (%v), want live only", ents, err)
	}
	for _, i := range []int{0, r.n - 1} {
		dir, file := treeFile(i)
		want, err := os.ReadFile(filepath.Join(r.src, dir, file))
		if err != nil {
			return err
		}
		if got, err := os.ReadFile(filepath.Join(r.work, "live", dir, file)); err != nil || string(got) != string(want) {
			return fmt.Errorf("live/%s/%s = %q (%v), want %q", dir, file, got, err, want)
		}
	}
	return nil
}

// exchangeTime is the mean time of the renameat2(RENAME_EXCHANGE) Install
// publishes with, between live and another directory. The exchange swaps
// two directory entries whatever the trees below them hold, so the other
// directory is empty.
func (r *installRun) exchangeTime() (time.Duration, error) {
	if err := r.d.Mkdir("other", 0o755); err != nil {
		return 0, err
	}
	const swaps = 1000
	start := time.Now()
	for range swaps {
		if err := r.d.Exchange("live", "other"); err != nil {
			r.d.RemoveAll("other")
			return 0, err
		}
	}
	t := time.Since(start) / swaps
	return t, r.d.Remove("other")
}

var installOp = &Op{
	Name:    "Install",
	Title:   "replacement of a published tree of N small files by a fresh copy (old tree removed)",
	Axis:    "files",
	Params:  ints(TreeSizes...),
	Wall:    true,
	Counted: 1,
	Extra:   map[string]string{"window-ns/op": "how long the name was missing or half-written, ns"},
	Impls: []Impl{
		// Atomic and durable: the staged tree is flushed (syncfs) before
		// one renameat2(RENAME_EXCHANGE) swaps it in, and the swap after.
		installImpl("racefree", "racefree `Dir.Install` (atomic, durable)", func(r *installRun) (time.Duration, error) {
			return 0, r.d.Install("live", func(stage *dirfd.Dir) error { return CopyTree(stage, r.src, ".") })
		}),
		// cp -a into a fresh directory, then rename: neither durable nor
		// atomic (the name is missing between the renames).
		installImpl("cp-a+rename", "`cp -a` + 2 renames (neither)", func(r *installRun) (time.Duration, error) {
			if out, err := exec.Command("cp", "-a", r.src, filepath.Join(r.work, "fresh")).CombinedOutput(); err != nil {
				return 0, fmt.Errorf("cp: %v: %s", err, out)
			}
			return renameInto(r.work)
		}),
		// The same Go copier as racefree into a fresh directory, then
		// rename.
		installImpl("copy+rename", "same copier + 2 renames (neither)", func(r *installRun) (time.Duration, error) {
			if err := copyFresh(r.work, r.src); err != nil {
				return 0, err
			}
			return renameInto(r.work)
		}),
		// As copy+rename, made durable like racefree: syncfs before and
		// after the renames. What racefree costs beyond durability is the
		// difference.
		installImpl("copy+syncfs+rename", "same copier + syncfs + 2 renames (durable, not atomic)", func(r *installRun) (time.Duration, error) {
			if err := copyFresh(r.work, r.src); err != nil {
				return 0, err
			}
			if err := Syncfs(r.work); err != nil {
				return 0, err
			}
			window, err := renameInto(r.work)
			if err == nil {
				err = Syncfs(r.work)
			}
			return window, err
		}),
		// Copy over the live tree: readers see a mix of versions for the
		// whole copy, which is the window.
		installImpl("copy-into-place", "same copier over the live tree (neither)", func(r *installRun) (time.Duration, error) {
			start := time.Now()
			err := CopyTree(overwriteDir(filepath.Join(r.work, "live")), r.src, ".")
			return time.Since(start), err
		}),
	},
}
