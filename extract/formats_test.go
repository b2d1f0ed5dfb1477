//go:build unix

package extract_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/extract"
)

// openDst opens the scene's dst. Close it before looking at dst: a Dir
// keeps its private stage there until it is closed.
func openDst(t *testing.T, s *scene) *dirfd.Dir {
	t.Helper()
	d, err := dirfd.Open(s.dst)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// tarInto extracts the tar archive r into the scene's dst and closes it.
func tarInto(t *testing.T, s *scene, r io.Reader, opts ...extract.Option) (extract.Stats, error) {
	t.Helper()
	d := openDst(t, s)
	defer d.Close()
	return extract.Tar(d, r, opts...)
}

// TestCompressionDetected extracts one archive plain and in each codec:
// the codec is found from the first bytes, and the tree is the same.
func TestCompressionDetected(t *testing.T) {
	members := []member{dir("a"), f("a/x", strings.Repeat("compressible ", 1000)+"end"), sym("l", "a/x")}
	compress := map[string]func(w io.Writer) io.WriteCloser{
		"plain": func(w io.Writer) io.WriteCloser { return nopWriteCloser{w} },
		"gzip":  func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
		"zstd": func(w io.Writer) io.WriteCloser {
			z, _ := zstd.NewWriter(w)
			return z
		},
		"xz": func(w io.Writer) io.WriteCloser {
			x, _ := xz.NewWriter(w)
			return x
		},
		"bzip2": nil, // by the bzip2 command: the standard library only reads it
	}
	want := treeOf("a dir 0755\na/x file 0644 1 " + strings.Repeat("compressible ", 1000) + "end" + "\nl symlink a/x")
	for name, c := range compress {
		t.Run(name, func(t *testing.T) {
			s := newScene(t, "")
			data := tarOf(t, s.base, members)
			var buf bytes.Buffer
			if c == nil {
				cmd := exec.Command("bzip2", "-c")
				cmd.Stdin, cmd.Stdout = bytes.NewReader(data), &buf
				if err := cmd.Run(); err != nil {
					t.Skipf("no bzip2 command to compress with: %v", err)
				}
			} else {
				w := c(&buf)
				w.Write(data)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := tarInto(t, s, &buf); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, describe(t, s.dst, false)); diff != "" {
				t.Errorf("dst (-want +got):\n%s", diff)
			}
		})
	}
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// TestSparseHolesStayHoles extracts a sparse file GNU tar archived: the
// content is whole and the holes take no space.
func TestSparseHolesStayHoles(t *testing.T) {
	src := t.TempDir()
	p := filepath.Join(src, "sparse")
	sf, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	sf.WriteAt([]byte("start"), 0)
	sf.WriteAt([]byte("end"), 64<<20)
	sf.Close()
	archive := filepath.Join(src, "s.tar")
	if out, err := exec.Command("tar", "--sparse", "--format=pax", "-cf", archive, "-C", src, "sparse").CombinedOutput(); err != nil {
		t.Skipf("no GNU tar to make a sparse archive: %v %s", err, out)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	s := newScene(t, "")
	if _, err := tarInto(t, s, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(s.dst, "sparse")
	want, _ := os.ReadFile(p)
	if content, _ := os.ReadFile(got); !bytes.Equal(content, want) {
		t.Fatalf("sparse file content differs (%d bytes, want %d)", len(content), len(want))
	}
	var st unix.Stat_t
	if err := unix.Stat(got, &st); err != nil {
		t.Fatal(err)
	}
	if allocated := st.Blocks * 512; allocated > 1<<20 {
		t.Errorf("%d bytes allocated for a file of %d bytes: the holes were written", allocated, st.Size)
	}
}

// TestZipDeclaredSizesNotTrusted pins that a zip file's declared size
// limits nothing by itself: content longer than declared is an error and
// leaves no file, and a declared size past the Limits budget is refused
// before anything is written.
func TestZipDeclaredSizesNotTrusted(t *testing.T) {
	long := bytes.Repeat([]byte("z"), 1<<20)
	for _, tc := range []struct {
		name     string
		declared uint64
		opts     []extract.Option
		wantErr  error
	}{
		{name: "content-longer-than-declared", declared: 10, wantErr: zip.ErrFormat},
		{name: "declared-past-the-limit", declared: 1 << 40, opts: []extract.Option{extract.Limits(0, 1<<20)}, wantErr: extract.ErrLimit},
		{name: "content-past-the-limit", declared: uint64(len(long)), opts: []extract.Option{extract.Limits(0, 1000)}, wantErr: extract.ErrLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var compressed bytes.Buffer
			fw, _ := flate.NewWriter(&compressed, flate.BestCompression)
			fw.Write(long)
			fw.Close()
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			w, err := zw.CreateRaw(&zip.FileHeader{Name: "bomb", Method: zip.Deflate,
				CompressedSize64: uint64(compressed.Len()), UncompressedSize64: tc.declared, CRC32: 0})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(compressed.Bytes())
			zw.Close()
			s := newScene(t, "")
			d := openDst(t, s)
			_, err = extract.Zip(d, bytes.NewReader(buf.Bytes()), int64(buf.Len()), tc.opts...)
			d.Close()
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("extract: %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(treeOf(""), describe(t, s.dst, false)); diff != "" {
				t.Errorf("dst (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOwners pins that the archive's owners are applied only with Owners,
// to every kind of entry, a symlink itself and not its target.
func TestOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []tar.Header{
		{Name: "d/", Typeflag: tar.TypeDir, Mode: 0o755, Uid: 1234, Gid: 5678},
		{Name: "d/f", Typeflag: tar.TypeReg, Mode: 0o644, Uid: 1234, Gid: 5678},
		{Name: "l", Typeflag: tar.TypeSymlink, Linkname: "d/f", Uid: 4321, Gid: 8765},
	} {
		tw.WriteHeader(&h)
	}
	tw.Close()
	want := map[string][2]uint32{"d": {1234, 5678}, "d/f": {1234, 5678}, "l": {4321, 8765}}
	for _, owners := range []bool{false, true} {
		s := newScene(t, "")
		var opts []extract.Option
		if owners {
			opts = append(opts, extract.Owners())
		}
		if _, err := tarInto(t, s, bytes.NewReader(buf.Bytes()), opts...); err != nil {
			t.Fatal(err)
		}
		for name, ids := range want {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(s.dst, name), &st); err != nil {
				t.Fatal(err)
			}
			if !owners {
				ids = [2]uint32{0, 0}
			}
			if st.Uid != ids[0] || st.Gid != ids[1] {
				t.Errorf("owners %v: %s is %d:%d, want %d:%d", owners, name, st.Uid, st.Gid, ids[0], ids[1])
			}
		}
	}
}

// TestStatsAndProgress pins what Stats counts and that Progress sees every
// entry.
func TestStatsAndProgress(t *testing.T) {
	s := newScene(t, "")
	members := []member{dir("d"), f("d/a", "aaa"), f("b", "bb"), sym("l", "b"), hard("h", "b"), {kind: 'p', name: "p"}, {kind: 'x', name: "v"}}
	var calls []extract.Stats
	got, err := tarInto(t, s, bytes.NewReader(tarOf(t, s.base, members)), extract.Progress(func(st extract.Stats) { calls = append(calls, st) }))
	if err != nil {
		t.Fatal(err)
	}
	want := extract.Stats{Files: 2, Dirs: 1, Symlinks: 1, Hardlinks: 1, Skipped: 2, Bytes: 5}
	if got != want {
		t.Errorf("Stats = %+v, want %+v", got, want)
	}
	if len(calls) != len(members) || calls[len(calls)-1] != want {
		t.Errorf("Progress called %d times, last with %+v; want %d, the last with the final counts", len(calls), calls, len(members))
	}
}
