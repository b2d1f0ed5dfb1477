//go:build linux

package bench

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// installSizes are the tree sizes measured: small files spread over
// installSubdirs directories.
var installSizes = []int{1000, 10000}

const installSubdirs = 32

// makeSource creates a tree of n small files under dir/src.
func makeSource(dir string, n int) (string, error) {
	src := filepath.Join(dir, "src")
	for i := range installSubdirs {
		if err := os.MkdirAll(filepath.Join(src, fmt.Sprintf("d%02d", i)), 0o755); err != nil {
			return "", err
		}
	}
	for i := range n {
		name := filepath.Join(src, fmt.Sprintf("d%02d", i%installSubdirs), fmt.Sprintf("f%05d", i))
		if err := os.WriteFile(name, []byte(fmt.Sprintf("file %d of the release\n", i)), 0o644); err != nil {
			return "", err
		}
	}
	return src, nil
}

// treeWriter is what the copier writes through: a *dirfd.Dir (the stage
// Install hands to build) or a plain directory path.
type treeWriter interface {
	Mkdir(name string, perm fs.FileMode) error
	Create(name string) (*os.File, error)
}

// pathDir writes below a path with plain os calls.
type pathDir string

func (p pathDir) Mkdir(name string, perm fs.FileMode) error {
	return os.Mkdir(filepath.Join(string(p), name), perm)
}

func (p pathDir) Create(name string) (*os.File, error) {
	return os.Create(filepath.Join(string(p), name))
}

// copyTree copies the tree at src into w, the same way for every
// implementation: the benchmarks then differ only in how the copy is
// published.
func copyTree(w treeWriter, src, rel string) error {
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
			if err := copyTree(w, src, name); err != nil {
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

func syncfs(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}

// installImpl replaces work/live with a copy of src. window is how long
// the name was in transition (missing, or partly written) during the call.
type installImpl struct {
	Name    string
	Install func(d *dirfd.Dir, work, src string) (window time.Duration, err error)
}

// renameInto publishes work/fresh as work/live the way scripts do: move
// the old tree aside, move the new one in, remove the old one. Between the
// two renames the name is missing.
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

var installImpls = []installImpl{
	// Atomic and durable: the staged tree is flushed (syncfs) before one
	// renameat2(RENAME_EXCHANGE) swaps it in, and the swap after. The
	// window is that exchange alone, measured separately (swap-ns).
	{"racefree", func(d *dirfd.Dir, work, src string) (time.Duration, error) {
		return 0, d.Install("live", func(stage *dirfd.Dir) error { return copyTree(stage, src, ".") })
	}},
	// cp -a into a fresh directory, then rename: neither durable nor
	// atomic (the name is missing between the renames).
	{"cp-a+rename", func(d *dirfd.Dir, work, src string) (time.Duration, error) {
		if out, err := exec.Command("cp", "-a", src, filepath.Join(work, "fresh")).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("cp: %v: %s", err, out)
		}
		return renameInto(work)
	}},
	// The same Go copier as racefree into a fresh directory, then rename.
	{"copy+rename", func(d *dirfd.Dir, work, src string) (time.Duration, error) {
		fresh := filepath.Join(work, "fresh")
		if err := os.Mkdir(fresh, 0o755); err != nil {
			return 0, err
		}
		if err := copyTree(pathDir(fresh), src, "."); err != nil {
			return 0, err
		}
		return renameInto(work)
	}},
	// As copy+rename, made durable like racefree: syncfs before and after
	// the renames. What racefree costs beyond durability is the difference.
	{"copy+syncfs+rename", func(d *dirfd.Dir, work, src string) (time.Duration, error) {
		fresh := filepath.Join(work, "fresh")
		if err := os.Mkdir(fresh, 0o755); err != nil {
			return 0, err
		}
		if err := copyTree(pathDir(fresh), src, "."); err != nil {
			return 0, err
		}
		if err := syncfs(work); err != nil {
			return 0, err
		}
		window, err := renameInto(work)
		if err == nil {
			err = syncfs(work)
		}
		return window, err
	}},
	// Copy into the live directory: readers see a mix of versions for the
	// whole copy, which is the window.
	{"copy-into-place", func(d *dirfd.Dir, work, src string) (time.Duration, error) {
		start := time.Now()
		err := copyTree(overwriteDir(filepath.Join(work, "live")), src, ".")
		return time.Since(start), err
	}},
}

// overwriteDir is pathDir where directories may exist already.
type overwriteDir string

func (p overwriteDir) Mkdir(name string, perm fs.FileMode) error {
	err := os.Mkdir(filepath.Join(string(p), name), perm)
	if os.IsExist(err) {
		return nil
	}
	return err
}

func (p overwriteDir) Create(name string) (*os.File, error) { return pathDir(p).Create(name) }

// installWork makes a work directory holding a first copy of src as live,
// and opens it.
func installWork(tb testing.TB, dir, src string) (string, *dirfd.Dir) {
	work, err := os.MkdirTemp(dir, "work-")
	if err != nil {
		tb.Fatal(err)
	}
	live := filepath.Join(work, "live")
	if err := os.Mkdir(live, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := copyTree(pathDir(live), src, "."); err != nil {
		tb.Fatal(err)
	}
	d, err := dirfd.Open(work)
	if err != nil {
		tb.Fatal(err)
	}
	return work, d
}

// TestInstallImpls checks that every implementation leaves a whole copy
// under live and nothing else, so the benchmark cannot time an error path.
func TestInstallImpls(t *testing.T) {
	dir := t.TempDir()
	src, err := makeSource(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range installImpls {
		work, d := installWork(t, dir, src)
		for range 2 {
			if _, err := impl.Install(d, work, src); err != nil {
				t.Fatalf("%s: %v", impl.Name, err)
			}
		}
		d.Close()
		ents, err := os.ReadDir(work)
		if err != nil || len(ents) != 1 || ents[0].Name() != "live" {
			t.Errorf("%s: work holds %v, %v; want live only", impl.Name, ents, err)
		}
		for _, f := range []string{"d00/f00000", "d03/f00099"} {
			want, _ := os.ReadFile(filepath.Join(src, f))
			if got, err := os.ReadFile(filepath.Join(work, "live", f)); err != nil || string(got) != string(want) {
				t.Errorf("%s: live/%s = %q, %v; want %q", impl.Name, f, got, err, want)
			}
		}
	}
}

// BenchmarkInstall replaces a tree of 1,000 and 10,000 small files with a
// copy of another. ns/op is the whole replacement, old tree's removal
// included; window-ns is how long the name was in transition (racefree:
// the exchange alone, timed over two trees of the same size).
func BenchmarkInstall(b *testing.B) {
	for _, n := range installSizes {
		dir := b.TempDir()
		src, err := makeSource(dir, n)
		if err != nil {
			b.Fatal(err)
		}
		for _, impl := range installImpls {
			b.Run(fmt.Sprintf("files=%d/%s", n, impl.Name), func(b *testing.B) {
				work, d := installWork(b, dir, src)
				defer d.Close()
				var window time.Duration
				ops := 0
				for b.Loop() {
					w, err := impl.Install(d, work, src)
					if err != nil {
						b.Fatal(err)
					}
					window += w
					ops++
				}
				if impl.Name == "racefree" {
					window = time.Duration(ops) * exchangeTime(b, d, src)
				}
				b.ReportMetric(float64(window.Nanoseconds())/float64(ops), "window-ns/op")
			})
		}
	}
}

// exchangeTime is the mean time of the renameat2(RENAME_EXCHANGE) that
// Install publishes with, between live and a second tree of the same size.
func exchangeTime(b *testing.B, d *dirfd.Dir, src string) time.Duration {
	b.Helper()
	if err := d.Mkdir("other", 0o755); err != nil {
		b.Fatal(err)
	}
	other, err := d.OpenDir("other")
	if err != nil {
		b.Fatal(err)
	}
	defer other.Close()
	if err := copyTree(other, src, "."); err != nil {
		b.Fatal(err)
	}
	const swaps = 1000
	start := time.Now()
	for range swaps {
		if err := d.Exchange("live", "other"); err != nil {
			b.Fatal(err)
		}
	}
	t := time.Since(start) / swaps
	if err := d.RemoveAll("other"); err != nil {
		b.Fatal(err)
	}
	return t
}

// BenchmarkInstallFlush measures the two ways of making a freshly written
// tree durable that Install chose between: one syncfs of the filesystem, or
// an fsync of every file and directory. Each iteration writes a new tree
// (not timed) and flushes it (timed).
func BenchmarkInstallFlush(b *testing.B) {
	for _, n := range installSizes {
		dir := b.TempDir()
		src, err := makeSource(dir, n)
		if err != nil {
			b.Fatal(err)
		}
		if err := syncfs(dir); err != nil {
			b.Fatal(err)
		}
		for _, flush := range []struct {
			name string
			f    func(tree string) error
		}{
			{"syncfs", syncfs},
			{"fsync-each", fsyncEach},
		} {
			b.Run(fmt.Sprintf("files=%d/%s", n, flush.name), func(b *testing.B) {
				tree := filepath.Join(dir, "tree")
				for range b.N {
					b.StopTimer()
					if err := os.Mkdir(tree, 0o755); err != nil {
						b.Fatal(err)
					}
					if err := copyTree(pathDir(tree), src, "."); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					if err := flush.f(tree); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := os.RemoveAll(tree); err != nil {
						b.Fatal(err)
					}
					if err := syncfs(dir); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

// fsyncEach fsyncs every file and directory under root.
func fsyncEach(root string) error {
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		err = f.Sync()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	})
}
