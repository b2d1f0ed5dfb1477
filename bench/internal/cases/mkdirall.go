//go:build linux

package cases

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"
)

// mkdirLevels is how many new directories one MkdirAll creates.
const mkdirLevels = 8

// mkdirName is operation i's name: "m<i>/l2/.../l8", all of it new.
func mkdirName(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "m%d", i)
	for l := 2; l <= mkdirLevels; l++ {
		fmt.Fprintf(&b, "/l%d", l)
	}
	return b.String()
}

// mkdirImpl runs MkdirAll of a fresh 8-level name in its own directory
// under root.
func mkdirImpl(name, title string, floor bool, op func(e *env, name string) error) Impl {
	return Impl{Name: name, Title: title, Floor: floor, Start: func(root string, _ int) (*Runner, error) {
		dir, err := workDir(root, "mkdirall")
		if err != nil {
			return nil, err
		}
		e, err := openEnv(dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		ns := names{}
		return &Runner{
			Prepare: func(i int) error { ns[i] = mkdirName(i); return nil },
			Op:      func(i int) error { return op(e, ns[i]) },
			Check: func(i int) error {
				fi, err := os.Lstat(filepath.Join(dir, ns[i]))
				if err == nil && !fi.IsDir() {
					err = errors.New("not a directory")
				}
				return err
			},
			Reset: func() error { ns.reset(); return emptyDir(dir) },
			Close: func() { e.close(); os.RemoveAll(dir) },
		}, nil
	}}
}

// emptyDir removes everything in dir, leaving dir itself (and so the
// descriptors open on it) in place.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if err := os.RemoveAll(filepath.Join(dir, ent.Name())); err != nil {
			return err
		}
	}
	return nil
}

var mkdirAllOp = &Op{
	Name:    "MkdirAll",
	Title:   "MkdirAll of a name of 8 components, none of which exists (`m<i>/l2/.../l8`)",
	Params:  none,
	Walk:    true,
	Counted: 200,
	Impls: []Impl{
		mkdirImpl("racefree", "racefree `Dir.MkdirAll`", false, func(e *env, name string) error {
			return e.dir.MkdirAll(name, 0o755)
		}),
		mkdirImpl("osroot", "`os.Root.MkdirAll`", false, func(e *env, name string) error {
			return e.osRoot.MkdirAll(name, 0o755)
		}),
		mkdirImpl("securejoin", "securejoin `MkdirAllHandle`", false, func(e *env, name string) error {
			return closeErr(pathrs.MkdirAllHandle(e.rootFile, name, 0o755))
		}),
		// One mkdirat per level, each of the prefix resolved by the
		// kernel from the root: no containment, no checks.
		mkdirImpl("mkdirat", "raw `mkdirat` per level (floor)", true, func(e *env, name string) error {
			for i := 0; i <= len(name); i++ {
				if i == len(name) || name[i] == '/' {
					if err := unix.Mkdirat(e.rootFd, name[:i], 0o755); err != nil {
						return err
					}
				}
			}
			return nil
		}),
		mkdirImpl("naive", "naive `os.MkdirAll(path)`", false, func(e *env, name string) error {
			return os.MkdirAll(filepath.Join(e.path, name), 0o755)
		}),
	},
}
