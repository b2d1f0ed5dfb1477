//go:build linux

package cases

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"

	"github.com/racefree/racefree/dirfd"
)

// writeFileImpl replaces dir/f with size bytes per operation. start
// prepares the writes in dir; the clean-up runs before dir is removed.
func writeFileImpl(name, title string, start func(dir string) (write func(name string, data []byte) error, done func(), err error)) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, size int) (*Runner, error) {
		dir, err := workDir(root, "writefile")
		if err != nil {
			return nil, err
		}
		write, done, err := start(dir)
		cleanup := func() {
			if done != nil {
				done()
			}
			os.RemoveAll(dir)
		}
		// Every operation replaces an existing file, the first one too.
		// Operations alternate between two contents, and the file starts
		// with a third, so that each check sees what its operation alone
		// wrote: an implementation that does nothing fails it.
		data := [2][]byte{bytes.Repeat([]byte{'x'}, size), bytes.Repeat([]byte{'y'}, size)}
		if err == nil {
			err = write("f", bytes.Repeat([]byte{'o'}, size))
		}
		if err != nil {
			cleanup()
			return nil, err
		}
		return &Runner{
			Op: func(i int) error { return write("f", data[i%2]) },
			Check: func(i int) error {
				if got, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || !bytes.Equal(got, data[i%2]) {
					return fmt.Errorf("f holds %d bytes starting %.1q (%v), want %d of %q", len(got), got, err, len(data[i%2]), data[i%2][0])
				}
				return nil
			},
			Close: cleanup,
		}, nil
	}}
}

var writeFileOp = &Op{
	Name:    "WriteFile",
	Title:   "replacement of an existing file with N bytes",
	Axis:    "size",
	Params:  []Param{{"4KiB", 4 << 10}, {"1MiB", 1 << 20}},
	Wall:    true,
	Counted: 20,
	Impls: []Impl{
		// Atomic and durable: the file and its directory are fsync'ed.
		writeFileImpl("racefree", "racefree `Dir.WriteFile` (atomic, durable)", func(dir string) (func(string, []byte) error, func(), error) {
			d, err := dirfd.Open(dir)
			if err != nil {
				return nil, nil, err
			}
			return func(name string, data []byte) error { return d.WriteFile(name, data, 0o644) }, func() { d.Close() }, nil
		}),
		// The same durability by hand, as careful code writes it: a
		// temporary file beside the name, write, fsync, rename over the
		// name, fsync of the directory. (Atomic and durable against a
		// crash; not against another user, who can take the temporary
		// name in a directory it may write: the tamper attack.)
		writeFileImpl("by-hand", "by hand: temporary file, `fsync`, `rename`, `fsync` of the directory (atomic, durable)", func(dir string) (func(string, []byte) error, func(), error) {
			dirf, err := os.Open(dir)
			if err != nil {
				return nil, nil, err
			}
			return func(name string, data []byte) error {
				tmp := filepath.Join(dir, "."+name+".tmp")
				f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					return err
				}
				_, err = f.Write(data)
				if err == nil {
					err = f.Sync()
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err == nil {
					err = os.Rename(tmp, filepath.Join(dir, name))
				}
				if err == nil {
					err = dirf.Sync()
				}
				return err
			}, func() { dirf.Close() }, nil
		}),
		// Atomic; the file is fsync'ed, its directory is not. WriteFile as
		// users call it: each call first checks whether $TMPDIR is on the
		// same filesystem as the destination (two temporary files and a
		// rename) and, if so, stages the file there.
		writeFileImpl("renameio", "renameio `WriteFile` (atomic, file fsync'ed)", func(dir string) (func(string, []byte) error, func(), error) {
			return func(name string, data []byte) error {
				return renameio.WriteFile(filepath.Join(dir, name), data, 0o644)
			}, nil, nil
		}),
		// renameio told to stage next to the destination, which skips that
		// check: its cheapest use.
		writeFileImpl("renameio-tempdir", "renameio `WriteFile` + `WithTempDir`", func(dir string) (func(string, []byte) error, func(), error) {
			return func(name string, data []byte) error {
				return renameio.WriteFile(filepath.Join(dir, name), data, 0o644, renameio.WithTempDir(dir))
			}, nil, nil
		}),
		// The baseline: truncate and write in place, neither atomic nor
		// durable.
		writeFileImpl("os", "`os.WriteFile` (in place, neither)", func(dir string) (func(string, []byte) error, func(), error) {
			return func(name string, data []byte) error {
				return os.WriteFile(filepath.Join(dir, name), data, 0o644)
			}, nil, nil
		}),
	},
}
