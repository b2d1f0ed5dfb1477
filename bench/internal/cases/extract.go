//go:build linux

package cases

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/extract"
	"github.com/racefree/racefree/internal/naive"
)

// extractOp unpacks a whole archive into a fresh directory per operation:
// racefree's extract.Tar against GNU tar and the naive Go extractor
// (archive/tar, filepath.Join, os calls: what extract replaces). Every
// implementation reads the archive from a pipe that a goroutine of this
// process fills, so none of them pays for reading it from the filesystem
// measured, and the 1 GiB archive needs no room there.
var extractOp = &Op{
	Name:  "Extract",
	Title: "unpack a tar archive into a new directory",
	Axis:  "archive",
	Params: []Param{
		{"10000-files", archiveFiles},
		{"10000-files.zst", archiveFiles | archiveZstd},
		{"1GiB", archiveGiB},
		{"1GiB.zst", archiveGiB | archiveZstd},
	},
	Impls: []Impl{
		extractImpl("racefree", "racefree extract.Tar", extractRacefree),
		extractImpl("gnutar", "GNU tar -x", extractGNUTar),
		extractImpl("naive", "naive Go (archive/tar + filepath.Join + os)", extractNaive),
	},
	Wall:    true,
	Counted: 1,
	Extra:   map[string]string{"files": "regular files per archive"},
}

// The archives, as Param values: what they hold, and whether compressed.
const (
	archiveFiles = 1 << iota // 10,000 small files in 100 directories
	archiveGiB               // 1 GiB in 8 files of 128 MiB
	archiveZstd              // zstd-compressed
)

// archive is one archive's content, made once per process.
type archive struct {
	once  sync.Once
	data  []byte // the archive, except for the plain 1 GiB one, generated while read
	files int
	err   error
}

var archives sync.Map // Param value -> *archive

func archiveOf(kind int) (*archive, error) {
	a, _ := archives.LoadOrStore(kind, &archive{})
	arc := a.(*archive)
	arc.once.Do(func() {
		arc.files = 10000
		if kind&archiveGiB != 0 {
			arc.files = gibFiles
		}
		if kind == archiveGiB {
			return // generated while read: 1 GiB is not kept in memory
		}
		var buf bytes.Buffer
		w := io.Writer(&buf)
		var z *zstd.Encoder
		if kind&archiveZstd != 0 {
			if z, arc.err = zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedDefault)); arc.err != nil {
				return
			}
			w = z
		}
		if arc.err = writeArchive(w, kind&^archiveZstd); arc.err == nil && z != nil {
			arc.err = z.Close()
		}
		arc.data = buf.Bytes()
	})
	return arc, arc.err
}

const (
	gibFiles    = 8
	gibFileSize = 128 << 20
)

// writeArchive writes the plain tar archive of the kind to w.
func writeArchive(w io.Writer, kind int) error {
	tw := tar.NewWriter(w)
	if kind&archiveGiB != 0 {
		// Text-like content, so that compression behaves as on real data
		// rather than on zeros or noise.
		chunk := bytes.Repeat([]byte("racefree extracts 1 GiB of this line, again and again.\n"), 1<<14)
		for i := range gibFiles {
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("big/%d", i), Mode: 0o644, Size: gibFileSize}); err != nil {
				return err
			}
			for left := int64(gibFileSize); left > 0; {
				n, err := tw.Write(chunk[:min(left, int64(len(chunk)))])
				if err != nil {
					return err
				}
				left -= int64(n)
			}
		}
		return tw.Close()
	}
	for i := range 10000 {
		dir, file := treeFile(i)
		if i%filesPerDir == 0 {
			if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
				return err
			}
		}
		data := fmt.Appendf(nil, "file %d of the release\n", i)
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/" + file, Mode: 0o644, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// pipe returns the read end of a pipe that a goroutine fills with the
// archive; wait returns the writer's error.
func (a *archive) pipe(kind int) (r *os.File, wait func() error, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() {
		var err error
		if a.data != nil {
			_, err = w.Write(a.data)
		} else {
			err = writeArchive(w, kind)
		}
		w.Close()
		done <- err
	}()
	return r, func() error { return <-done }, nil
}

// extractImpl: extract unpacks the archive read from r into out, an empty
// directory.
func extractImpl(name, title string, extract func(out string, r io.Reader, zst bool) error) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, kind int) (*Runner, error) {
		arc, err := archiveOf(kind)
		if err != nil {
			return nil, err
		}
		work, err := workDir(root, "extract-"+name)
		if err != nil {
			return nil, err
		}
		out := func(i int) string { return filepath.Join(work, "out-"+strconv.Itoa(i)) }
		return &Runner{
			// One at a time, and the last output removed first: 1 GiB
			// twice may not fit the filesystem measured.
			Batch: 1,
			Prepare: func(i int) error {
				return os.Mkdir(out(i), 0o755)
			},
			Op: func(i int) error {
				r, wait, err := arc.pipe(kind &^ archiveZstd)
				if err != nil {
					return err
				}
				err = extract(out(i), r, kind&archiveZstd != 0)
				r.Close()
				if werr := wait(); err == nil {
					err = werr
				}
				return err
			},
			Check: func(i int) error { return checkExtracted(out(i), kind) },
			Reset: func() error {
				ents, err := os.ReadDir(work)
				for _, e := range ents {
					if err := os.RemoveAll(filepath.Join(work, e.Name())); err != nil {
						return err
					}
				}
				return err
			},
			Metrics: func(int) (map[string]float64, error) {
				return map[string]float64{"files": float64(arc.files)}, nil
			},
			Close: func() { os.RemoveAll(work) },
		}, nil
	}}
}

// checkExtracted reports whether out holds the archive's last file, whole.
func checkExtracted(out string, kind int) error {
	if kind&archiveGiB != 0 {
		fi, err := os.Stat(filepath.Join(out, "big", strconv.Itoa(gibFiles-1)))
		if err != nil || fi.Size() != gibFileSize {
			return fmt.Errorf("big/%d: %v (%v), want %d bytes", gibFiles-1, fi, err, gibFileSize)
		}
		return nil
	}
	dir, file := treeFile(9999)
	want := "file 9999 of the release\n"
	if got, err := os.ReadFile(filepath.Join(out, dir, file)); err != nil || string(got) != want {
		return fmt.Errorf("%s/%s = %q (%v), want %q", dir, file, got, err, want)
	}
	return nil
}

func extractRacefree(out string, r io.Reader, _ bool) error {
	d, err := dirfd.Open(out)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = extract.Tar(d, r) // the codec is found from the first bytes
	return err
}

// extractGNUTar runs tar as a user would, with the owners left to the
// caller as extract.Tar leaves them by default (tar run as root would
// otherwise chown every file).
func extractGNUTar(out string, r io.Reader, zst bool) error {
	args := []string{"-x", "--no-same-owner", "-f", "-", "-C", out}
	if zst {
		args = append(args, "--zstd")
	}
	cmd := exec.Command("tar", args...)
	cmd.Stdin = r
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("tar: %v: %s", err, msg)
	}
	return nil
}

func extractNaive(out string, r io.Reader, zst bool) error {
	if zst {
		z, err := zstd.NewReader(r)
		if err != nil {
			return err
		}
		defer z.Close()
		r = z
	}
	return naive.Tar(out, r, false)
}
