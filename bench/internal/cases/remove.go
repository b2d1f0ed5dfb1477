//go:build linux

package cases

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

// TreeSizes are the numbers of files in the trees RemoveAll removes and
// Install publishes.
var TreeSizes = []int{100, 1000, 10000}

// filesPerDir is how many files each directory of such a tree holds.
const filesPerDir = 100

// treeFile is where file i of a tree lives: in directory i/filesPerDir.
func treeFile(i int) (dir, file string) {
	return fmt.Sprintf("d%03d", i/filesPerDir), fmt.Sprintf("f%05d", i)
}

// buildEmptyTree creates name in dirfd holding n empty files, filesPerDir
// to a directory: one mknodat per file, so that preparing a removal costs
// little besides the removal.
func buildEmptyTree(dirfd int, name string, n int) error {
	if err := unix.Mkdirat(dirfd, name, 0o755); err != nil {
		return err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for i := range n {
		dir, file := treeFile(i)
		if i%filesPerDir == 0 {
			if err := unix.Mkdirat(fd, dir, 0o755); err != nil {
				return err
			}
		}
		if err := unix.Mknodat(fd, dir+"/"+file, unix.S_IFREG|0o644, 0); err != nil {
			return err
		}
	}
	return nil
}

// gone is nil when name no longer exists in dir.
func gone(dir, name string) error {
	if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s still there (%v)", name, err)
	}
	return nil
}

// removeAllImpl removes a fresh tree of n files per operation.
func removeAllImpl(name, title string, op func(r *removeAllRun, name string) error) Impl {
	return Impl{Name: name, Title: title, Start: func(root string, n int) (*Runner, error) {
		dir, err := workDir(root, "removeall")
		if err != nil {
			return nil, err
		}
		r := &removeAllRun{dir: dir}
		r.fd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			r.d, err = dirfd.Open(dir)
		}
		if err == nil {
			r.root, err = os.OpenRoot(dir)
		}
		if err != nil {
			r.close()
			return nil, err
		}
		ns := names{}
		return &Runner{
			Prepare: func(i int) error {
				ns[i] = "t" + strconv.Itoa(i)
				return buildEmptyTree(r.fd, ns[i], n)
			},
			Op:    func(i int) error { return op(r, ns[i]) },
			Check: func(i int) error { return gone(dir, ns[i]) },
			Batch: 1,
			Close: r.close,
		}, nil
	}}
}

type removeAllRun struct {
	dir  string
	fd   int
	d    *dirfd.Dir
	root *os.Root
}

func (r *removeAllRun) close() {
	if r.d != nil {
		r.d.Close()
	}
	if r.root != nil {
		r.root.Close()
	}
	unix.Close(r.fd)
	os.RemoveAll(r.dir)
}

var removeAllOp = &Op{
	Name:    "RemoveAll",
	Title:   "RemoveAll of a tree of N empty files, 100 to a directory",
	Axis:    "files",
	Params:  ints(TreeSizes...),
	Counted: 1,
	Impls: []Impl{
		removeAllImpl("racefree", "racefree `Dir.RemoveAll`", func(r *removeAllRun, name string) error {
			return r.d.RemoveAll(name)
		}),
		removeAllImpl("os", "`os.RemoveAll(path)`", func(r *removeAllRun, name string) error {
			return os.RemoveAll(filepath.Join(r.dir, name))
		}),
		removeAllImpl("osroot", "`os.Root.RemoveAll`", func(r *removeAllRun, name string) error {
			return r.root.RemoveAll(name)
		}),
	},
}

// removeIfSameRun removes, per operation, a file it created and holds a
// handle of (untimed): what a caller has when it checked a file and now
// removes it.
type removeIfSameRun struct {
	dir     string
	fd      int // O_PATH of dir, for the raw calls
	d       *dirfd.Dir
	names   names
	handles map[int]*opath.Handle
	fds     map[int]int // the handles' descriptors
}

func (r *removeIfSameRun) prepare(i int) error {
	name := "x" + strconv.Itoa(i)
	if err := unix.Mknodat(r.fd, name, unix.S_IFREG|0o644, 0); err != nil {
		return err
	}
	h, err := r.d.OpenHandle(name)
	if err != nil {
		return err
	}
	r.names[i], r.handles[i], r.fds[i] = name, h, int(h.Fd())
	return nil
}

// closeHandles closes the handles of the operations done so far.
func (r *removeIfSameRun) closeHandles() {
	for i, h := range r.handles {
		h.Close()
		delete(r.handles, i)
		delete(r.fds, i)
	}
	r.names.reset()
}

func (r *removeIfSameRun) close() {
	r.closeHandles()
	if r.d != nil {
		r.d.Close()
	}
	unix.Close(r.fd)
	os.RemoveAll(r.dir)
}

func removeIfSameImpl(name, title string, floor bool, op func(r *removeIfSameRun, i int) error) Impl {
	return verifiedImpl(name, title, floor, op, func(r *removeIfSameRun, i int) error { return gone(r.dir, r.names[i]) })
}

// verifiedImpl is an operation on a file the runner created and holds a
// handle of, with check judging its effect.
func verifiedImpl(name, title string, floor bool, op, check func(r *removeIfSameRun, i int) error) Impl {
	return Impl{Name: name, Title: title, Floor: floor, Start: func(root string, _ int) (*Runner, error) {
		dir, err := workDir(root, "removeifsame")
		if err != nil {
			return nil, err
		}
		r := &removeIfSameRun{dir: dir, names: names{}, handles: map[int]*opath.Handle{}, fds: map[int]int{}}
		r.fd, err = unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == nil {
			r.d, err = dirfd.Open(dir)
		}
		if err != nil {
			r.close()
			return nil, err
		}
		return &Runner{
			Prepare: r.prepare,
			Op:      func(i int) error { return op(r, i) },
			Check:   func(i int) error { return check(r, i) },
			Reset:   func() error { r.closeHandles(); return nil },
			Close:   r.close,
		}, nil
	}}
}

var removeIfSameOp = &Op{
	Name:    "RemoveIfSame",
	Title:   "removal of a file only if the name still refers to the object a handle pins",
	Params:  none,
	Counted: 200,
	Impls: []Impl{
		removeIfSameImpl("racefree", "racefree `Dir.RemoveIfSame` (move-aside)", false, func(r *removeIfSameRun, i int) error {
			return r.d.RemoveIfSame(r.names[i], r.handles[i])
		}),
		// What hand-written code does: compare, then unlink. Another user
		// can swap the name between the two.
		removeIfSameImpl("naive", "naive `fstat` + `fstatat`, compare, `unlinkat`", false, func(r *removeIfSameRun, i int) error {
			var want, got unix.Stat_t
			if err := unix.Fstat(r.fds[i], &want); err != nil {
				return err
			}
			if err := unix.Fstatat(r.fd, r.names[i], &got, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			if got.Dev != want.Dev || got.Ino != want.Ino {
				return errors.New("changed")
			}
			return unix.Unlinkat(r.fd, r.names[i], 0)
		}),
		// The removal without any verification.
		removeIfSameImpl("unlinkat", "raw `unlinkat` (floor, unverified)", true, func(r *removeIfSameRun, i int) error {
			return unix.Unlinkat(r.fd, r.names[i], 0)
		}),
	},
}
