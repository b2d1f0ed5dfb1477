//go:build linux

package bench

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/renameio/v2"

	"github.com/racefree/racefree/dirfd"
)

// writeFileImpl writes data to name in a directory, replacing the file
// there. Start prepares one run in dir and returns the write and a clean-up.
type writeFileImpl struct {
	Name  string
	Start func(dir string) (write func(name string, data []byte) error, done func(), err error)
}

var writeFileImpls = []writeFileImpl{
	// Atomic and durable: the file and its directory are fsync'ed.
	{"racefree", func(dir string) (func(string, []byte) error, func(), error) {
		d, err := dirfd.Open(dir)
		if err != nil {
			return nil, nil, err
		}
		return func(name string, data []byte) error { return d.WriteFile(name, data, 0o644) }, func() { d.Close() }, nil
	}},
	// Atomic; the file is fsync'ed, its directory is not. WriteFile as
	// users call it: each call first checks whether $TMPDIR is on the same
	// filesystem as the destination (two temporary files and a rename) and,
	// if so, stages the file there.
	{"renameio", func(dir string) (func(string, []byte) error, func(), error) {
		return func(name string, data []byte) error {
			return renameio.WriteFile(filepath.Join(dir, name), data, 0o644)
		}, func() {}, nil
	}},
	// renameio told to stage next to the destination, which skips that
	// check: its cheapest use.
	{"renameio-tempdir", func(dir string) (func(string, []byte) error, func(), error) {
		return func(name string, data []byte) error {
			return renameio.WriteFile(filepath.Join(dir, name), data, 0o644, renameio.WithTempDir(dir))
		}, func() {}, nil
	}},
	// The baseline: truncate and write in place, neither atomic nor durable.
	{"os", func(dir string) (func(string, []byte) error, func(), error) {
		return func(name string, data []byte) error {
			return os.WriteFile(filepath.Join(dir, name), data, 0o644)
		}, func() {}, nil
	}},
}

var writeFileSizes = []struct {
	name string
	size int
}{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}}

// TestWriteFileImpls checks that every implementation really replaces the
// file, so the benchmark cannot time an error path.
func TestWriteFileImpls(t *testing.T) {
	for _, impl := range writeFileImpls {
		dir := t.TempDir()
		write, done, err := impl.Start(dir)
		if err != nil {
			t.Fatalf("%s: %v", impl.Name, err)
		}
		for _, data := range [][]byte{[]byte("first"), []byte("second")} {
			if err := write("f", data); err != nil {
				t.Errorf("%s: %v", impl.Name, err)
			}
			if got, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || !bytes.Equal(got, data) {
				t.Errorf("%s: f = %q, %v; want %q", impl.Name, got, err, data)
			}
		}
		done()
	}
}

// BenchmarkWriteFile replaces an existing file with WriteFile. The
// directory is in $TMPDIR (run.sh's tree directory), so the filesystem
// measured is chosen by TMPDIR: a disk's fsyncs dominate there, a tmpfs
// shows the system calls.
func BenchmarkWriteFile(b *testing.B) {
	for _, size := range writeFileSizes {
		data := bytes.Repeat([]byte{'x'}, size.size)
		for _, impl := range writeFileImpls {
			b.Run(fmt.Sprintf("size=%s/impl=%s", size.name, impl.Name), func(b *testing.B) {
				dir := b.TempDir()
				write, done, err := impl.Start(dir)
				if err != nil {
					b.Fatal(err)
				}
				defer done()
				if err := write("f", data); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(size.size))
				b.ReportAllocs()
				for b.Loop() {
					if err := write("f", data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
