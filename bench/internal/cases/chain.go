//go:build linux

package cases

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// Depths measured for Open and Stat. Depth N is the name "d1/.../dN/f":
// N directories, then a regular file (N+1 components).
var Depths = []int{1, 8, 32}

// chainDepth is the depth of the chain Fixtures builds.
const chainDepth = 32

// ChainName is the name, relative to the chain's root, of the file at
// depth n.
func ChainName(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "d%d/", i)
	}
	b.WriteString("f")
	return b.String()
}

// chain is root/chain, the directories d1/.../d32 with a small regular
// file f in each and in chain itself; it is built the first time.
func chain(root string) (string, error) {
	dir := filepath.Join(root, "chain")
	if _, err := os.Stat(filepath.Join(dir, ChainName(chainDepth))); err == nil {
		return dir, nil
	}
	d := dir
	for i := 0; i <= chainDepth; i++ {
		if i > 0 {
			d = filepath.Join(d, fmt.Sprintf("d%d", i))
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte("racefree\n"), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// env holds every implementation's handle on one directory.
type env struct {
	path     string     // naive calls join names to it
	dir      *dirfd.Dir // racefree
	osRoot   *os.Root
	rootFile *os.File // O_PATH|O_DIRECTORY: securejoin's root and the raw floors' base
	rootFd   int      // rootFile's descriptor
}

func openEnv(path string) (*env, error) {
	e := &env{path: path}
	var err error
	if e.dir, err = dirfd.Open(path); err != nil {
		return nil, err
	}
	if e.osRoot, err = os.OpenRoot(path); err != nil {
		e.dir.Close()
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		e.dir.Close()
		e.osRoot.Close()
		return nil, err
	}
	e.rootFd = fd
	e.rootFile = os.NewFile(uintptr(fd), path)
	return e, nil
}

func (e *env) close() {
	e.dir.Close()
	e.osRoot.Close()
	e.rootFile.Close()
}

// chainImpl is an Open or Stat implementation: one call on name in e.
func chainImpl(name, title string, floor bool, op func(e *env, name string) error) Impl {
	return Impl{Name: name, Title: title, Floor: floor, Start: func(root string, depth int) (*Runner, error) {
		dir, err := chain(root)
		if err != nil {
			return nil, err
		}
		e, err := openEnv(dir)
		if err != nil {
			return nil, err
		}
		name := ChainName(depth)
		missing := strings.TrimSuffix(name, "f") + "missing"
		return &Runner{
			Op: func(int) error { return op(e, name) },
			// Open and Stat change nothing to look at afterwards. What
			// only a real lookup does is tell names apart: the same
			// call on a missing name at the same depth must fail, so an
			// implementation that does nothing, or ignores its name,
			// fails the check.
			Check: func(int) error {
				if err := op(e, missing); !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("%s: %v, want an error matching fs.ErrNotExist", missing, err)
				}
				return nil
			},
			Close: e.close,
		}, nil
	}}
}

// beneath are the resolve flags of racefree's default (Beneath) mode, which
// the raw floors use too.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

func closeErr(f *os.File, err error) error {
	if err != nil {
		return err
	}
	return f.Close()
}

var openOp = &Op{
	Name:    "Open",
	Title:   "Open + Close of a regular file at depth N (name `d1/.../dN/f`)",
	Axis:    "depth",
	Params:  ints(Depths...),
	Walk:    true,
	Counted: 200,
	Impls: []Impl{
		chainImpl("racefree", "racefree `Dir.Open`", false, func(e *env, name string) error {
			return closeErr(e.dir.Open(name))
		}),
		chainImpl("osroot", "`os.Root.Open`", false, func(e *env, name string) error {
			return closeErr(e.osRoot.Open(name))
		}),
		// OpenatInRoot returns an O_PATH handle: it is not opened for
		// reading (that takes a Reopen more), so this costs securejoin
		// less than the others' work.
		chainImpl("securejoin", "securejoin `OpenatInRoot` (O_PATH)", false, func(e *env, name string) error {
			return closeErr(pathrs.OpenatInRoot(e.rootFile, name))
		}),
		// One openat2 with racefree's resolve flags, wrapped in an
		// *os.File as every other implementation returns one.
		chainImpl("openat2", "raw `openat2` + `os.NewFile` (floor)", true, func(e *env, name string) error {
			how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: beneath}
			fd, err := unix.Openat2(e.rootFd, name, &how)
			if err != nil {
				return err
			}
			return os.NewFile(uintptr(fd), name).Close()
		}),
		chainImpl("naive", "naive `os.Open(path)`", false, func(e *env, name string) error {
			return closeErr(os.Open(filepath.Join(e.path, name)))
		}),
	},
}

var statOp = &Op{
	Name:    "Stat",
	Title:   "Stat of a regular file at depth N",
	Axis:    "depth",
	Params:  ints(Depths...),
	Walk:    true,
	Counted: 200,
	Impls: []Impl{
		chainImpl("racefree", "racefree `Dir.Stat`", false, func(e *env, name string) error {
			_, err := e.dir.Stat(name)
			return err
		}),
		chainImpl("osroot", "`os.Root.Stat`", false, func(e *env, name string) error {
			_, err := e.osRoot.Stat(name)
			return err
		}),
		// openat2(O_PATH) + fstat + close.
		chainImpl("openat2", "raw `openat2(O_PATH)` + `fstat` (floor)", true, func(e *env, name string) error {
			how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: beneath}
			fd, err := unix.Openat2(e.rootFd, name, &how)
			if err != nil {
				return err
			}
			var st unix.Stat_t
			err = unix.Fstat(fd, &st)
			unix.Close(fd)
			return err
		}),
		chainImpl("naive", "naive `os.Stat(path)`", false, func(e *env, name string) error {
			_, err := os.Stat(filepath.Join(e.path, name))
			return err
		}),
	},
}
