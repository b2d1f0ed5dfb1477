package dirfd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// TestCopyTreeKeepsSparseFilesSparse copies a 1 GiB file with 8 KiB of
// data: the copy must have the same size and content and allocate about
// what the source does, not a gibibyte.
func TestCopyTreeKeepsSparseFilesSparse(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(root, "src", "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 300 << 20, 1<<30 - 4096} {
		if _, err := f.WriteAt([]byte(strings.Repeat("x", 4096)), off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "src", "sparse"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Blocks*512 >= st.Size/2 {
		t.Skip("this filesystem does not make sparse files")
	}
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := dirfd.CopyTree(d, "dst", d, "src"); err != nil {
		t.Fatal(err)
	}
	var cst unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "dst", "sparse"), &cst); err != nil {
		t.Fatal(err)
	}
	if cst.Size != st.Size || cst.Blocks > st.Blocks+64 {
		t.Errorf("copy: size %d, %d blocks; source: size %d, %d blocks", cst.Size, cst.Blocks, st.Size, st.Blocks)
	}
	if a, b := dataSegments(t, filepath.Join(root, "src", "sparse")), dataSegments(t, filepath.Join(root, "dst", "sparse")); !cmp.Equal(a, b) {
		t.Errorf("data segments: source %v, copy %v", a, b)
	}
}

// dataSegments lists a file's data as SEEK_DATA and SEEK_HOLE see it, with
// the bytes of each segment.
func dataSegments(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var segs []string
	for off := int64(0); ; {
		data, err := unix.Seek(int(f.Fd()), off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			return segs
		}
		if err != nil {
			t.Fatal(err)
		}
		hole, err := unix.Seek(int(f.Fd()), data, unix.SEEK_HOLE)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, hole-data)
		if _, err := f.ReadAt(buf, data); err != nil {
			t.Fatal(err)
		}
		segs = append(segs, fmt.Sprintf("%d: %q", data, strings.TrimRight(string(buf), "\x00")))
		off = hole
	}
}
