//go:build unix

package dirent_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/dirent"
)

// TestReadAllListsWhatReadDirLists compares ReadAll with os.ReadDir on
// directories with every type of entry, the longest names, and enough
// entries to take many getdents calls: same names, and the same types
// wherever ReadAll knows them (everywhere but macOS, which gives none).
func TestReadAllListsWhatReadDirLists(t *testing.T) {
	for _, n := range []int{0, 5, 3000} {
		t.Run(fmt.Sprint(n, " files"), func(t *testing.T) {
			dir := t.TempDir()
			for i := range n {
				if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d", i)), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			for _, step := range []func() error{
				func() error { return os.Mkdir(filepath.Join(dir, "sub"), 0o755) },
				func() error { return os.Symlink("nowhere", filepath.Join(dir, "link")) },
				func() error { return syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644) },
				func() error { return os.WriteFile(filepath.Join(dir, strings.Repeat("x", 255)), nil, 0o644) },
			} {
				if err := step(); err != nil {
					t.Fatal(err)
				}
			}
			want := map[string]fs.FileMode{}
			ents, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				want[e.Name()] = e.Type()
			}
			fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			got, err := dirent.ReadAll(fd, nil)
			if err != nil {
				t.Fatal(err)
			}
			gotTypes := map[string]fs.FileMode{}
			var names []string
			for _, e := range got {
				names = append(names, e.Name)
				if !e.Known && runtime.GOOS != "darwin" {
					t.Errorf("%s: type unknown", e.Name)
				}
				if e.Known {
					gotTypes[e.Name] = e.Type
				} else {
					gotTypes[e.Name] = want[e.Name]
				}
			}
			if diff := cmp.Diff(want, gotTypes); diff != "" {
				t.Errorf("ReadAll differs from os.ReadDir (-ReadDir +ReadAll):\n%s", diff)
			}
			if len(names) != len(want) {
				t.Errorf("ReadAll gave %d names (duplicates?), want %d", len(names), len(want))
			}
		})
	}
}
