package testfs

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// disk is a filesystem made on a loop-mounted image file.
type disk struct {
	name string
	size int64    // the image's size
	mkfs []string // the command and its options; the image is appended
	pkg  string   // the Debian package that has the command, for the skip message
}

// The images are sparse, so only what mkfs and the tests write takes space:
// a few MiB each (xfs zeroes its log: about 65 MiB). They are sized for
// fstests' matrix, whose ten processes (profiles x uids) all attack at
// once: btrfs at its smallest (about 114 MiB) ran out of space there.
var disks = []disk{
	{"ext4", 256 << 20, []string{"mkfs.ext4", "-q", "-F"}, "e2fsprogs"},
	{"xfs", 300 << 20, []string{"mkfs.xfs", "-q", "-f"}, "xfsprogs"}, // refuses less than 300 MiB
	{"btrfs", 512 << 20, []string{"mkfs.btrfs", "-q", "-f"}, "btrfs-progs"},
}

const (
	// shm is the usual tmpfs that anyone may write to.
	shm       = "/dev/shm"
	tmpfsName = "tmpfs"
	tmpfsOpts = "size=256m,mode=0755"
	// scratchName is the world-writable directory in each mount's root
	// in which sub-tests make theirs.
	scratchName = "scratch"
)

func prepare() ([]cell, owner, error) {
	if os.Geteuid() != 0 {
		return unprivileged(), nil, nil
	}
	return mountAll()
}

// unprivileged is the matrix of a process that cannot mount: /dev/shm
// stands in for the tmpfs, the disk filesystems are skipped.
func unprivileged() []cell {
	var cells []cell
	for _, d := range disks {
		cells = append(cells, cell{Name: d.name, Skip: fmt.Sprintf("not root (euid %d): cannot loop-mount an image of %s; run the tests as root to cover it", os.Geteuid(), d.name)})
	}
	if err := usableTmpfs(shm); err != nil {
		cells = append(cells, cell{Name: tmpfsName, Skip: fmt.Sprintf("not root (euid %d) and no usable tmpfs: %v", os.Geteuid(), err)})
	} else {
		cells = append(cells, cell{Name: tmpfsName, Scratch: shm})
	}
	return append(cells, cell{Name: fuseName, Skip: fmt.Sprintf("not root (euid %d): cannot mount the FUSE test filesystem with allow_other; run the tests as root to cover it", os.Geteuid())})
}

// usableTmpfs says why dir is not a tmpfs this process can write in, if
// it is not.
func usableTmpfs(dir string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	if st.Type != unix.TMPFS_MAGIC {
		return fmt.Errorf("%s is not a tmpfs", dir)
	}
	return unix.Access(dir, unix.W_OK|unix.X_OK)
}

// mounts is what the process that mounted the filesystems holds: the
// watchdog that serves the FUSE cell and undoes it all once the write end
// of its stdin is closed.
type mounts struct {
	watchdog *exec.Cmd
	stdin    io.Closer     // closing it (or exiting) tells the watchdog to clean up
	out      <-chan []byte // the watchdog's stdout and stderr, once it has exited
}

// mountAll makes a fresh base directory, starts the watchdog for it (which
// mounts and serves the FUSE cell), and then mounts every other filesystem
// under it, concurrently (mkfs is mostly waiting for writes). A filesystem that cannot be made or mounted is
// skipped with the reason; only a failure to set up the base directory or
// the watchdog is an error.
func mountAll() ([]cell, owner, error) {
	// The images are best kept in memory: the durable operations under
	// test fsync, and on images backed by a disk file every fsync of six
	// concurrent test processes waits for that disk (seconds per test on
	// btrfs). The filesystems are the same either way.
	parent := shm
	if usableTmpfs(parent) != nil {
		parent = os.TempDir()
	}
	base, err := os.MkdirTemp(parent, "racefree-testfs-")
	if err != nil {
		return nil, nil, err
	}
	// Others (uid 65534 children) must be able to reach the mounts, and
	// the watchdog finds them in mountinfo by their resolved path.
	if err := os.Chmod(base, 0o755); err != nil {
		os.Remove(base)
		return nil, nil, err
	}
	if resolved, err := filepath.EvalSymlinks(base); err == nil {
		base = resolved
	}
	m, fuseSkip, err := startWatchdog(base)
	if err != nil {
		os.Remove(base)
		return nil, nil, err
	}
	cells := make([]cell, len(disks)+2)
	var wg sync.WaitGroup
	for i, d := range disks {
		wg.Go(func() { cells[i] = mountDisk(base, d) })
	}
	wg.Go(func() { cells[len(disks)] = mountTmpfs(base) })
	wg.Go(func() { cells[len(disks)+1] = fuseCell(base, fuseSkip) })
	wg.Wait()
	return cells, m, nil
}

func mountDisk(base string, d disk) cell {
	skip := func(format string, args ...any) cell {
		return cell{Name: d.name, Skip: d.name + ": " + fmt.Sprintf(format, args...)}
	}
	mkfs, err := lookSbin(d.mkfs[0])
	if err != nil {
		return skip("%s not found (install %s)", d.mkfs[0], d.pkg)
	}
	img := filepath.Join(base, d.name+".img")
	if err := sparseFile(img, d.size); err != nil {
		return skip("%v", err)
	}
	if out, err := exec.Command(mkfs, append(d.mkfs[1:], img)...).CombinedOutput(); err != nil {
		return skip("%s: %v: %s", d.mkfs[0], err, bytes.TrimSpace(out))
	}
	dir := filepath.Join(base, d.name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return skip("%v", err)
	}
	mount, err := lookSbin("mount")
	if err != nil {
		return skip("mount(8) not found")
	}
	// mount(8) finds a free loop device and sets it to detach itself when
	// the filesystem is unmounted, so unmounting is all the clean-up needs.
	if out, err := exec.Command(mount, "-t", d.name, "-o", "loop", img, dir).CombinedOutput(); err != nil {
		return skip("mount -o loop: %v: %s", err, bytes.TrimSpace(out))
	}
	return withScratch(d.name, dir)
}

func mountTmpfs(base string) cell {
	dir := filepath.Join(base, tmpfsName)
	err := os.Mkdir(dir, 0o755)
	if err == nil {
		err = unix.Mount("racefree-testfs", dir, "tmpfs", 0, tmpfsOpts)
	}
	if err != nil {
		return cell{Name: tmpfsName, Skip: fmt.Sprintf("tmpfs: mount: %v", err)}
	}
	return withScratch(tmpfsName, dir)
}

// withScratch makes the mount's scratch directory, world-writable and
// sticky like /tmp, so that children of every uid can make their own
// directories there and none can remove another's.
func withScratch(name, mountpoint string) cell {
	scratch := filepath.Join(mountpoint, scratchName)
	err := os.Mkdir(scratch, 0o755)
	if err == nil {
		// Mkdir's mode is cut by the umask. os.FileMode has its own bit
		// for sticky: a literal 0o1777 would drop it.
		err = os.Chmod(scratch, 0o777|os.ModeSticky)
	}
	if err != nil {
		return cell{Name: name, Skip: fmt.Sprintf("%s: %v", name, err)}
	}
	return cell{Name: name, Scratch: scratch}
}

// lookSbin finds a command on PATH or, since root's PATH in a CI job may
// lack them, in the system binary directories.
func lookSbin(name string) (string, error) {
	path, err := exec.LookPath(name)
	if err == nil {
		return path, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", err
}

func sparseFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (m *mounts) release() error {
	m.stdin.Close()
	out := <-m.out
	if err := m.watchdog.Wait(); err != nil {
		return fmt.Errorf("testfs watchdog: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// startWatchdog starts this same binary as the watchdog for base (see
// watchdog) and waits until it is ready: from then on, whatever happens to
// this process, everything mounted under base is undone. It returns why
// the watchdog could not serve the FUSE cell, if it could not.
func startWatchdog(base string) (m *mounts, fuseSkip string, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(self)
	cmd.Env = []string{watchdogEnv + "=" + base}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = w, w
	// Its own session: a ^C or a signal to our process group must not
	// take the watchdog down with us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	stdin, err := cmd.StdinPipe()
	if err == nil {
		err = cmd.Start()
	}
	w.Close()
	if err != nil {
		r.Close()
		return nil, "", fmt.Errorf("starting the testfs watchdog: %w", err)
	}
	br := bufio.NewReader(r)
	line, readErr := br.ReadString('\n')
	// Read on in the background: the FUSE server in the watchdog logs
	// what goes wrong, and must never block on a full pipe.
	out := make(chan []byte, 1)
	go func() {
		rest, _ := io.ReadAll(br)
		r.Close()
		out <- rest
	}()
	m = &mounts{watchdog: cmd, stdin: stdin, out: out}
	status, fuseSkip, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "\t")
	if readErr != nil || status != watchdogReady {
		err := m.release()
		return nil, "", fmt.Errorf("the testfs watchdog did not start: %q (%v)", line, err)
	}
	return m, fuseSkip, nil
}
