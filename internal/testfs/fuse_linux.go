package testfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// The FUSE cell is a small loopback over a directory of the base, built on
// go-fuse, that refuses every renameat2 flag (RENAME_NOREPLACE,
// RENAME_EXCHANGE, RENAME_WHITEOUT) with EINVAL and has no O_TMPFILE
// (EOPNOTSUPP), as many FUSE and network filesystems. It is there to prove
// that racefree learns capabilities per filesystem: the same process has
// them on tmpfs and not here. In everything else it behaves as a local
// filesystem, so that what fails on it is racefree's doing:
//
//   - Each node holds an O_PATH descriptor of its backing object and every
//     operation goes through descriptors, never paths. go-fuse's own
//     loopback works by path, so an object whose name was replaced or
//     removed (one a descriptor still refers to: an O_PATH handle, a
//     symlink being followed) cannot be reached any more, and fstat or
//     readlink fail with ENOENT where a local filesystem answers.
//   - What a caller creates is the caller's (the server runs as root and
//     chowns it), and the kernel checks modes and owners
//     (default_permissions) with the caller's credentials.
//   - The kernel caches nothing (zero timeouts): every answer is the
//     server's, as on a network filesystem that caches nothing.
//
// The watchdog serves it, not the process that owns the matrix:
//
//   - A thread waiting for a FUSE answer that the server has already read
//     waits uninterruptibly, even through SIGKILL. A test process that is
//     killed (by -timeout, say) while it served its own mount would never
//     finish dying: its waiting thread keeps the descriptor table, and with
//     it /dev/fuse, open, and the answer never comes. The watchdog outlives
//     every user of the mount by construction.
//   - The server's descriptors (one per node, one per open file) stay out
//     of the test processes, whose tests count and inspect their own.
//
// A server that hangs cannot hang the tests for ever either: once the owner
// starts to die (go test's -timeout is the last resort for any hang), the
// watchdog sees it and its teardown aborts the connection (MNT_FORCE), which
// fails every waiting request with ENOTCONN.
const (
	fuseName        = "fuse"
	fuseBackingName = "fuse.backing" // the directory the loopback serves, beside the mount point
	fuseSubtype     = "racefree"     // mounted as type fuse.racefree
	fuseMaxWrite    = 128 << 10      // go-fuse's default; max_read must agree with it
)

// hangName, looked up in the root of the FUSE cell, hangs the server's
// answer for good, and hungMarker then appears in the backing directory:
// TestWatchdog uses them to check that a hung server cannot keep a killed
// owner alive.
const (
	hangName   = ".racefree-testfs-hang"
	hungMarker = ".racefree-testfs-hung"
)

// fusePanicked is set once a request of the FUSE server has panicked (and
// failed with EIO): the watchdog then fails, which Release reports with
// the panic, rather than leaving a test to puzzle over an EIO.
var fusePanicked atomic.Bool

// serveFuse mounts the FUSE cell at base/fuse and serves it from this
// process's goroutines until the connection is aborted or unmounted. It
// returns why the cell is unavailable, or "" when it is served.
func serveFuse(base string) string {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		return fmt.Sprintf("no FUSE device (%v): load the fuse module, or give the container /dev/fuse", err)
	}
	backing := filepath.Join(base, fuseBackingName)
	mountpoint := filepath.Join(base, fuseName)
	for _, dir := range []string{backing, mountpoint} {
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err.Error()
		}
	}
	rootFd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(backing, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Sprintf("open %s: %v", backing, err)
	}
	root := newFuseNode(rootFd)
	// The kernel applies the caller's umask before it sends a mode; the
	// server's own must not cut it again.
	unix.Umask(0)

	// Mounted here rather than by go-fuse, which opens /dev/fuse without
	// O_CLOEXEC; go-fuse then takes the descriptor over through the
	// /dev/fd/N form of the mount point.
	dev, err := eintr.Retry1(func() (int, error) { return unix.Open("/dev/fuse", unix.O_RDWR|unix.O_CLOEXEC, 0) })
	if err != nil {
		return fmt.Sprintf("open /dev/fuse: %v", err)
	}
	// allow_other: the uid 65534 children use it too. default_permissions:
	// the kernel checks modes and owners, as on a disk filesystem; the
	// server runs as root and would allow anything.
	opts := fmt.Sprintf("fd=%d,rootmode=%o,user_id=0,group_id=0,allow_other,default_permissions,max_read=%d", dev, unix.S_IFDIR, fuseMaxWrite)
	if err := unix.Mount("racefree-testfs", mountpoint, "fuse."+fuseSubtype, unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		unix.Close(dev)
		return fmt.Sprintf("mount -t fuse.%s: %v", fuseSubtype, err)
	}
	zero := time.Duration(0)
	_, err = fs.Mount(fmt.Sprintf("/dev/fd/%d", dev), root, &fs.Options{
		MountOptions: fuse.MountOptions{
			MaxWrite: fuseMaxWrite,
			FsName:   "racefree-testfs",
			Name:     fuseSubtype,
			PanicHandler: func(v any) fuse.Status {
				fusePanicked.Store(true)
				fmt.Fprintf(os.Stderr, "testfs FUSE server: panic: %v\n%s", v, debug.Stack())
				return fuse.EIO
			},
		},
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		// A mode of 000 stays 000 (go-fuse would show 755 or 644).
		NullPermissions: true,
	})
	if err != nil {
		// go-fuse owns (and has closed) the descriptor by now.
		unix.Unmount(mountpoint, unix.MNT_FORCE|unix.MNT_DETACH)
		return fmt.Sprintf("serving FUSE: %v", err)
	}
	return ""
}

// fuseCell is the matrix's FUSE cell, once the watchdog has said whether
// it serves the filesystem (skip is empty) or why not.
func fuseCell(base, skip string) cell {
	if skip != "" {
		return cell{Name: fuseName, Skip: fuseName + ": " + skip}
	}
	return withScratch(fuseName, filepath.Join(base, fuseName))
}

// fuseNode is a node of the FUSE cell: the backing object, through an
// O_PATH descriptor.
type fuseNode struct {
	fs.Inode
	fd int
}

// newFuseNode makes the node of the object fd (O_PATH) refers to. The
// descriptor is closed once the node is unreachable, not when the kernel
// forgets the node: go-fuse's OnForget can race with a LOOKUP that revives
// the node, and go-fuse drops a new node for one it already knows (a
// second hard link) without saying so. Until then the backing object cannot be freed, so
// its inode number, which is the node's identity, cannot be reused.
//
// While a request runs, go-fuse holds the node (its embedded Inode), so
// the descriptor stays open under the methods below.
func newFuseNode(fd int) *fuseNode {
	n := &fuseNode{fd: fd}
	runtime.AddCleanup(n, func(fd int) { unix.Close(fd) }, fd)
	return n
}

var (
	_ fs.NodeLookuper       = (*fuseNode)(nil)
	_ fs.NodeGetattrer      = (*fuseNode)(nil)
	_ fs.NodeSetattrer      = (*fuseNode)(nil)
	_ fs.NodeOpener         = (*fuseNode)(nil)
	_ fs.NodeOpendirHandler = (*fuseNode)(nil)
	_ fs.NodeCreater        = (*fuseNode)(nil)
	_ fs.NodeMkdirer        = (*fuseNode)(nil)
	_ fs.NodeMknoder        = (*fuseNode)(nil)
	_ fs.NodeSymlinker      = (*fuseNode)(nil)
	_ fs.NodeReadlinker     = (*fuseNode)(nil)
	_ fs.NodeLinker         = (*fuseNode)(nil)
	_ fs.NodeUnlinker       = (*fuseNode)(nil)
	_ fs.NodeRmdirer        = (*fuseNode)(nil)
	_ fs.NodeRenamer        = (*fuseNode)(nil)
	_ fs.NodeStatfser       = (*fuseNode)(nil)
)

// procPath names the object of descriptor fd, for the calls that take no
// descriptor (chmod, truncate, reopening with other flags).
func procPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// child makes the node for the object fd (O_PATH) refers to, found or made
// under a name in n, and fills out with its attributes. It closes fd on
// failure.
func (n *fuseNode) child(ctx context.Context, fd int, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fs.ToErrno(err)
	}
	out.Attr.FromStat(&st)
	return n.NewInode(ctx, newFuseNode(fd), fs.StableAttr{Mode: st.Mode, Ino: st.Ino}), 0
}

// made gives the caller the object just made under name in n, and opens it
// (O_PATH) for its node; on failure it removes the object again.
func (n *fuseNode) made(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	err := chownToCaller(ctx, func(uid, gid int) error {
		return unix.Fchownat(n.fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	})
	fd := -1
	if err == nil {
		fd, err = eintr.Retry1(func() (int, error) {
			return unix.Openat(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		})
	}
	if err != nil {
		if unix.Unlinkat(n.fd, name, 0) == unix.EISDIR {
			unix.Unlinkat(n.fd, name, unix.AT_REMOVEDIR)
		}
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, fd, out)
}

// chownToCaller calls chown with the uid and gid of the request's caller.
func chownToCaller(ctx context.Context, chown func(uid, gid int) error) error {
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return unix.EIO
	}
	return chown(int(caller.Uid), int(caller.Gid))
}

// Lookup is openat(O_PATH); but for hangName in the root (see there).
func (n *fuseNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if name == hangName && n.IsRoot() {
		marker := filepath.Join(procPath(n.fd), hungMarker)
		if err := os.WriteFile(marker, nil, 0o600); err == nil {
			select {} // deaf to the kernel's interrupt, like a deadlocked server
		}
	}
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, fd, out)
}

// Getattr is fstat of the node's descriptor, which answers for an object
// whose name is gone.
func (n *fuseNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if err := syscall.Fstat(n.fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStat(&st)
	return 0
}

// Setattr changes what the kernel asks for, through the node's
// descriptor (or its /proc/self/fd name, for the calls that take no
// descriptor of an O_PATH open).
func (n *fuseNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if mode, ok := in.GetMode(); ok {
		if err := unix.Fchmodat(unix.AT_FDCWD, procPath(n.fd), mode, 0); err != nil {
			return fs.ToErrno(err)
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := unix.Fchownat(n.fd, "", u, g, unix.AT_EMPTY_PATH|unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fs.ToErrno(err)
		}
	}
	if size, ok := in.GetSize(); ok {
		if err := eintr.Retry(func() error { return unix.Truncate(procPath(n.fd), int64(size)) }); err != nil {
			return fs.ToErrno(err)
		}
	}
	atime, aok := in.GetATime()
	mtime, mok := in.GetMTime()
	if aok || mok {
		ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {Nsec: unix.UTIME_OMIT}}
		if aok {
			ts[0] = unix.NsecToTimespec(atime.UnixNano())
		}
		if mok {
			ts[1] = unix.NsecToTimespec(mtime.UnixNano())
		}
		if err := unix.UtimesNanoAt(n.fd, "", ts, unix.AT_EMPTY_PATH); err != nil {
			return fs.ToErrno(err)
		}
	}
	return n.Getattr(ctx, f, out)
}

// Open reopens the node's object with the flags asked for.
func (n *fuseNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	// The kernel positions appends itself, FMODE_EXEC is no open flag,
	// and O_NOFOLLOW would refuse the /proc/self/fd link itself.
	flags &^= syscall.O_APPEND | fuse.FMODE_EXEC | syscall.O_NOFOLLOW
	fd, err := eintr.Retry1(func() (int, error) { return unix.Open(procPath(n.fd), int(flags)|unix.O_CLOEXEC, 0) })
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	return fs.NewLoopbackFile(fd), 0, 0
}

// OpendirHandle opens the directory for reading its entries.
func (n *fuseNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(n.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	ds, errno := fs.NewLoopbackDirStreamFd(fd)
	return ds, 0, errno
}

// Create creates and opens a file, the caller's. The kernel asks only for
// a name it found free; should it have been taken meanwhile, the existing
// file is opened (unless O_EXCL) and keeps its owner.
func (n *fuseNode) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	flags &^= syscall.O_APPEND | fuse.FMODE_EXEC
	open := func(flags int) (int, error) {
		return eintr.Retry1(func() (int, error) {
			return unix.Openat(n.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
		})
	}
	fd, err := open(int(flags) | unix.O_CREAT | unix.O_EXCL)
	created := err == nil
	if err == unix.EEXIST && flags&syscall.O_EXCL == 0 {
		fd, err = open(int(flags) &^ unix.O_CREAT)
	}
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	if created {
		err = chownToCaller(ctx, func(uid, gid int) error { return unix.Fchown(fd, uid, gid) })
	}
	pathFd := -1
	if err == nil {
		pathFd, err = eintr.Retry1(func() (int, error) { return unix.Open(procPath(fd), unix.O_PATH|unix.O_CLOEXEC, 0) })
	}
	if err != nil {
		unix.Close(fd)
		if created {
			unix.Unlinkat(n.fd, name, 0)
		}
		return nil, nil, 0, fs.ToErrno(err)
	}
	ch, errno := n.child(ctx, pathFd, out)
	if errno != 0 {
		unix.Close(fd)
		return nil, nil, 0, errno
	}
	return ch, fs.NewLoopbackFile(fd), 0, 0
}

// Mkdir makes a directory, the caller's.
func (n *fuseNode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := unix.Mkdirat(n.fd, name, mode); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.made(ctx, name, out)
}

// Mknod makes a device, FIFO or socket, the caller's.
func (n *fuseNode) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := unix.Mknodat(n.fd, name, mode, int(rdev)); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.made(ctx, name, out)
}

// Symlink makes a symlink, the caller's.
func (n *fuseNode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := unix.Symlinkat(target, n.fd, name); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.made(ctx, name, out)
}

// Readlink reads the node's symlink, even once its name is gone.
func (n *fuseNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		got, err := unix.Readlinkat(n.fd, "", buf)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		if got < size {
			return buf[:got], 0
		}
	}
}

// Link gives the target's object a new name, by its descriptor.
func (n *fuseNode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*fuseNode)
	if !ok {
		return nil, syscall.EXDEV
	}
	if err := unix.Linkat(t.fd, "", n.fd, name, unix.AT_EMPTY_PATH); err != nil {
		return nil, fs.ToErrno(err)
	}
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(n.fd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		unix.Unlinkat(n.fd, name, 0)
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, fd, out)
}

// Unlink removes a name.
func (n *fuseNode) Unlink(ctx context.Context, name string) syscall.Errno {
	return fs.ToErrno(unix.Unlinkat(n.fd, name, 0))
}

// Rmdir removes an empty directory.
func (n *fuseNode) Rmdir(ctx context.Context, name string) syscall.Errno {
	return fs.ToErrno(unix.Unlinkat(n.fd, name, unix.AT_REMOVEDIR))
}

// Rename refuses any flag with EINVAL, which the kernel passes on as
// renameat2's result; the VFS has already answered what needs no
// filesystem (EEXIST for RENAME_NOREPLACE onto an existing name, ENOENT
// for RENAME_EXCHANGE with a missing one, EPERM for RENAME_WHITEOUT
// without CAP_MKNOD).
func (n *fuseNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*fuseNode)
	if !ok {
		return syscall.EXDEV
	}
	if flags != 0 {
		return syscall.EINVAL
	}
	return fs.ToErrno(unix.Renameat(n.fd, name, np.fd, newName))
}

// Statfs is the backing filesystem's.
func (n *fuseNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(n.fd, &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStatfsT(&st)
	return 0
}
