package testfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// The FUSE cell is a loopback over a directory of the base, built on
// go-fuse, that refuses every renameat2 flag (RENAME_NOREPLACE,
// RENAME_EXCHANGE, RENAME_WHITEOUT) with EINVAL, as many FUSE and network
// filesystems do, while a plain rename works. It is there to prove that
// racefree learns capabilities per filesystem: the same process has the
// flags on tmpfs and not here.
//
// The watchdog serves it, not the process that owns the matrix:
//
//   - A thread waiting for a FUSE answer that the server has already read
//     waits uninterruptibly, even through SIGKILL. A test process that is
//     killed (by -timeout, say) while it served its own mount would never
//     finish dying: its waiting thread keeps the descriptor table, and with
//     it /dev/fuse, open, and the answer never comes. The watchdog outlives
//     every user of the mount by construction.
//   - The server's descriptors (one per open file and directory, some of
//     them opened by go-fuse without O_CLOEXEC) stay out of the test
//     processes, whose tests count and inspect their own descriptors.
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
	var st unix.Stat_t
	if err := unix.Stat(backing, &st); err != nil {
		return err.Error()
	}
	root := &fs.LoopbackRoot{Path: backing, Dev: st.Dev}
	root.RootNode = &flaglessNode{&fs.LoopbackNode{RootData: root}}
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
	_, err = fs.Mount(fmt.Sprintf("/dev/fd/%d", dev), root.RootNode, &fs.Options{
		MountOptions: fuse.MountOptions{
			MaxWrite: fuseMaxWrite,
			FsName:   "racefree-testfs",
			Name:     fuseSubtype,
		},
		// Everything changes through the mount, so the kernel's caches
		// would stay right; they are off so that what a test sees is
		// always the server's answer, as on a network filesystem that
		// caches nothing.
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

// flaglessNode is go-fuse's loopback node with renameat2's flags refused.
// go-fuse's loopback preserves the caller's uid and gid on everything it
// creates when it runs as root, as the watchdog does.
type flaglessNode struct {
	*fs.LoopbackNode
}

var (
	_ fs.NodeRenamer     = (*flaglessNode)(nil)
	_ fs.NodeLookuper    = (*flaglessNode)(nil)
	_ fs.NodeWrapChilder = (*flaglessNode)(nil)
)

// Rename refuses any flag with EINVAL, which the kernel passes on as
// renameat2's result; the VFS has already answered what needs no
// filesystem (EEXIST for RENAME_NOREPLACE onto an existing name, ENOENT
// for RENAME_EXCHANGE with a missing one, EPERM for RENAME_WHITEOUT
// without CAP_MKNOD).
func (n *flaglessNode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if flags != 0 {
		return syscall.EINVAL
	}
	return n.LoopbackNode.Rename(ctx, name, newParent, newName, 0)
}

// Lookup is the loopback's, but for hangName in the root (see there).
func (n *flaglessNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if name == hangName && n.IsRoot() {
		if err := os.WriteFile(filepath.Join(n.RootData.Path, hungMarker), nil, 0o600); err == nil {
			select {} // deliberately deaf to the kernel's interrupt, like a deadlocked server
		}
	}
	return n.LoopbackNode.Lookup(ctx, name, out)
}

// WrapChild makes every node of the tree a flaglessNode.
func (n *flaglessNode) WrapChild(ctx context.Context, ops fs.InodeEmbedder) fs.InodeEmbedder {
	return &flaglessNode{ops.(*fs.LoopbackNode)}
}

// fuseCell is the matrix's FUSE cell, once the watchdog has said whether
// it serves the filesystem (skip is empty) or why not.
func fuseCell(base, skip string) cell {
	if skip != "" {
		return cell{Name: fuseName, Skip: fuseName + ": " + skip}
	}
	return withScratch(fuseName, filepath.Join(base, fuseName))
}
