//go:build linux

// Package tree builds the directory chain the benchmarks and the syscall
// counter open files in, and implements each measured way of opening them,
// so that both measure exactly the same code.
package tree

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// Depths measured. Depth N means N directories then the file:
// "d1/d2/.../dN/f", a name of N+1 components.
var Depths = []int{1, 8, 32}

// MaxDepth is the deepest chain Build creates.
const MaxDepth = 32

// Name is the name, relative to the root, of the file at depth n.
func Name(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "d%d/", i)
	}
	b.WriteString("f")
	return b.String()
}

// Build creates under root the chain d1/.../dMaxDepth with a regular file f
// (a few bytes) in every directory of it and in root itself.
func Build(root string) error {
	dir := root
	for i := 0; i <= MaxDepth; i++ {
		if i > 0 {
			dir = filepath.Join(dir, fmt.Sprintf("d%d", i))
			if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("racefree\n"), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Env holds every implementation's handle on one root.
type Env struct {
	Root     string     // the root's path
	Dir      *dirfd.Dir // racefree
	OSRoot   *os.Root   // os.Root
	RootFile *os.File   // O_PATH|O_DIRECTORY: securejoin's root and the raw openat2 base
	RootFd   int        // RootFile's descriptor
}

// Open opens every implementation's handle on root.
func Open(root string) (*Env, error) {
	e := &Env{Root: root}
	var err error
	if e.Dir, err = dirfd.Open(root); err != nil {
		return nil, err
	}
	if e.OSRoot, err = os.OpenRoot(root); err != nil {
		return nil, err
	}
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	e.RootFd = fd
	e.RootFile = os.NewFile(uintptr(fd), root)
	return e, nil
}

// Close releases every handle.
func (e *Env) Close() {
	e.Dir.Close()
	e.OSRoot.Close()
	e.RootFile.Close()
}

// Op is one measured operation on name; it must leave no descriptor open.
type Op func(e *Env, name string) error

// Open implementations: open name for reading (or, for securejoin, as the
// O_PATH handle OpenatInRoot returns), then close it.
var OpenImpls = []struct {
	Name string
	Op   Op
}{
	{"racefree", OpenRacefree},
	{"osroot", OpenOSRoot},
	{"securejoin", OpenSecurejoin},
	{"openat2", OpenRaw},
	{"naive", OpenNaive},
}

// Stat implementations.
var StatImpls = []struct {
	Name string
	Op   Op
}{
	{"racefree", StatRacefree},
	{"osroot", StatOSRoot},
	{"openat2", StatRaw},
	{"naive", StatNaive},
}

func closeErr(f *os.File, err error) error {
	if err != nil {
		return err
	}
	return f.Close()
}

func OpenRacefree(e *Env, name string) error { return closeErr(e.Dir.Open(name)) }
func OpenOSRoot(e *Env, name string) error   { return closeErr(e.OSRoot.Open(name)) }
func OpenSecurejoin(e *Env, name string) error {
	return closeErr(pathrs.OpenatInRoot(e.RootFile, name))
}
func OpenNaive(e *Env, name string) error { return closeErr(os.Open(filepath.Join(e.Root, name))) }

// OpenRaw is the floor: one openat2 with the resolve flags racefree's
// default (Beneath) mode uses, wrapped in an *os.File as every other
// implementation returns one.
func OpenRaw(e *Env, name string) error {
	how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(e.RootFd, name, &how)
	if err != nil {
		return err
	}
	return os.NewFile(uintptr(fd), name).Close()
}

func StatRacefree(e *Env, name string) error { _, err := e.Dir.Stat(name); return err }
func StatOSRoot(e *Env, name string) error   { _, err := e.OSRoot.Stat(name); return err }
func StatNaive(e *Env, name string) error    { _, err := os.Stat(filepath.Join(e.Root, name)); return err }

// StatRaw is the floor for Stat: openat2(O_PATH) + fstat + close.
func StatRaw(e *Env, name string) error {
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(e.RootFd, name, &how)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	return err
}
