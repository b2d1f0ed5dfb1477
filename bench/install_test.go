//go:build linux

package bench

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/racefree/racefree/bench/internal/cases"
)

// BenchmarkInstallFlush measures the two ways of making a freshly written
// tree durable that Install chose between (dirfd/install_linux.go): one
// syncfs of the filesystem, or an fsync of every file and directory. Each
// iteration writes a new tree (not timed) and flushes it (timed). run.sh
// does not run it.
func BenchmarkInstallFlush(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		src, err := cases.Source(root, n)
		if err != nil {
			b.Fatal(err)
		}
		dir := b.TempDir()
		if err := cases.Syncfs(dir); err != nil {
			b.Fatal(err)
		}
		for _, flush := range []struct {
			name string
			f    func(tree string) error
		}{
			{"syncfs", cases.Syncfs},
			{"fsync-each", fsyncEach},
		} {
			b.Run(fmt.Sprintf("files=%d/%s", n, flush.name), func(b *testing.B) {
				tree := filepath.Join(dir, "tree")
				for range b.N {
					b.StopTimer()
					if err := os.Mkdir(tree, 0o755); err != nil {
						b.Fatal(err)
					}
					if err := cases.CopyTree(cases.PathDir(tree), src, "."); err != nil {
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
					if err := cases.Syncfs(dir); err != nil {
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
