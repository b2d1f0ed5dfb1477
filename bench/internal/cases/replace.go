//go:build linux

package cases

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/linkat"
)

// replaceTargets alternate: operation i points current at replaceTargets[i%2].
var replaceTargets = [2]string{"v2", "v1"}

// replaceImpl points dir/current at a new target per operation. start
// prepares the replacement in dir (path and O_PATH descriptor); the
// clean-up runs before dir is removed. extra is how many entries besides
// current the implementation keeps in dir while it runs.
func replaceImpl(name, title string, extra int, start func(dir string, dirfd int) (replace func(target, name string) error, done func(), err error)) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, _ int) (*Runner, error) {
		dir, err := workDir(root, "replace")
		if err != nil {
			return nil, err
		}
		fd := -1
		if err = os.Symlink("v1", filepath.Join(dir, "current")); err == nil {
			fd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
		var replace func(string, string) error
		var done func()
		if err == nil {
			replace, done, err = start(dir, fd)
		}
		cleanup := func() {
			if done != nil {
				done()
			}
			if fd >= 0 {
				unix.Close(fd)
			}
			os.RemoveAll(dir)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
		return &Runner{
			Op: func(i int) error { return replace(replaceTargets[i%2], "current") },
			Check: func(i int) error {
				if got, err := os.Readlink(filepath.Join(dir, "current")); err != nil || got != replaceTargets[i%2] {
					return fmt.Errorf("current -> %q (%v), want %q", got, err, replaceTargets[i%2])
				}
				if ents, err := os.ReadDir(dir); err != nil || len(ents) != 1+extra {
					return fmt.Errorf("%d entries (%v), want %d", len(ents), err, 1+extra)
				}
				return nil
			},
			Close: cleanup,
		}, nil
	}}
}

var replaceSymlinkOp = &Op{
	Name:    "ReplaceSymlink",
	Title:   "atomic replacement of a symlink (`ln -sfT v2 current`)",
	Params:  none,
	Counted: 200,
	Impls: []Impl{
		// A Dir keeps its stage from the first replacement on (DESIGN.md
		// S3): the stage stays in dir, empty, until the Dir is closed.
		replaceImpl("racefree", "racefree `Dir.ReplaceSymlink`", 1, func(dir string, _ int) (func(string, string) error, func(), error) {
			d, err := dirfd.Open(dir)
			if err != nil {
				return nil, nil, err
			}
			return func(target, name string) error { return d.ReplaceSymlink(target, name) }, func() { d.Close() }, nil
		}),
		// The descriptor-level call without kept stages: a stage made and
		// removed per call.
		replaceImpl("racefree-oneshot", "racefree `linkat.ReplaceSymlink` (a stage per call)", 0, func(dir string, dirfd int) (func(string, string) error, func(), error) {
			return func(target, name string) error { return linkat.ReplaceSymlink(target, dirfd, name) }, nil, nil
		}),
		// A Replacer keeps its stage as a Dir does, for raw descriptors.
		replaceImpl("racefree-batch", "racefree `linkat.Replacer` (stage reused)", 1, func(dir string, dirfd int) (func(string, string) error, func(), error) {
			r, err := linkat.NewReplacer(dirfd)
			if err != nil {
				return nil, nil, err
			}
			return r.ReplaceSymlink, func() { r.Close() }, nil
		}),
		// What hand-written code does: there is a moment without the name.
		replaceImpl("naive", "naive `unlinkat` + `symlinkat` (not atomic)", 0, func(dir string, dirfd int) (func(string, string) error, func(), error) {
			return func(target, name string) error {
				if err := unix.Unlinkat(dirfd, name, 0); err != nil && err != unix.ENOENT {
					return err
				}
				return unix.Symlinkat(target, dirfd, name)
			}, nil, nil
		}),
		// coreutils' `ln -sfT` style: a random name in the same (shared)
		// directory, then rename. Atomic for readers, but the temporary
		// name is open to other users.
		replaceImpl("tmp+rename", "random name + `renameat` (ln -sfT)", 0, func(dir string, dirfd int) (func(string, string) error, func(), error) {
			return func(target, name string) error {
				var b [6]byte
				rand.Read(b[:])
				tmp := name + ".tmp" + hex.EncodeToString(b[:])
				if err := unix.Symlinkat(target, dirfd, tmp); err != nil {
					return err
				}
				if err := unix.Renameat(dirfd, tmp, dirfd, name); err != nil {
					unix.Unlinkat(dirfd, tmp, 0)
					return err
				}
				return nil
			}, nil, nil
		}),
		// renameio stages in a private temporary directory too, by path.
		replaceImpl("renameio", "renameio `Symlink`", 0, func(dir string, dirfd int) (func(string, string) error, func(), error) {
			return func(target, name string) error { return renameio.Symlink(target, filepath.Join(dir, name)) }, nil, nil
		}),
	},
}
