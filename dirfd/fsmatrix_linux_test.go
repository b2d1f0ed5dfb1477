package dirfd_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/internal/testfs"
)

// The filesystem matrix: what the kernel decides per filesystem (rename
// flags, O_TMPFILE, whiteouts) is checked on ext4, xfs, btrfs and tmpfs
// (internal/testfs), and every operation in fsmOps runs on each of them.
// TestMain's re-runs put the whole matrix under every capability profile
// and, as root, under uid 65534 too.

// fsmOp is one operation of the matrix. run gets a Dir on a fresh empty
// directory of the filesystem under test; adding an operation to the
// matrix is adding an entry to fsmOps.
type fsmOp struct {
	name string
	run  func(t *testing.T, d *dirfd.Dir)
}

var fsmOps = []fsmOp{
	{"Mkdir", func(t *testing.T, d *dirfd.Dir) {
		fsmNoErr(t, d.Mkdir("a", 0o755))
		if err := d.Mkdir("a", 0o755); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Mkdir of an existing name: %v, want ErrExist", err)
		}
		fsmExpect(t, d, "dir a")
	}},
	{"MkdirAll", func(t *testing.T, d *dirfd.Dir) {
		fsmNoErr(t, d.MkdirAll("a/b/c", 0o755))
		fsmNoErr(t, d.MkdirAll("a/b/c", 0o755)) // existing: no error, as os.MkdirAll
		fsmExpect(t, d, "dir a\ndir a/b\ndir a/b/c")
	}},
	{"CreateOpen", func(t *testing.T, d *dirfd.Dir) {
		fsmNoErr(t, d.Mkdir("a", 0o755))
		f, err := d.Create("a/f")
		fsmNoErr(t, err)
		_, err = f.WriteString("hello")
		fsmNoErr(t, errors.Join(err, f.Close()))
		f, err = d.Open("a/f")
		fsmNoErr(t, err)
		var buf bytes.Buffer
		_, err = buf.ReadFrom(f)
		fsmNoErr(t, errors.Join(err, f.Close()))
		if buf.String() != "hello" {
			t.Errorf("read back %q, want %q", buf.String(), "hello")
		}
	}},
	{"WriteFile", func(t *testing.T, d *dirfd.Dir) {
		fsmNoErr(t, d.WriteFile("f", []byte("one"), 0o644))
		fsmNoErr(t, d.WriteFile("f", []byte("two"), 0o644))
		fsmExpect(t, d, "file f two")
	}},
	{"Symlink", func(t *testing.T, d *dirfd.Dir) {
		fsmNoErr(t, d.Symlink("target", "l"))
		if err := d.Symlink("other", "l"); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Symlink over an existing name: %v, want ErrExist", err)
		}
		fsmExpect(t, d, "symlink l target")
	}},
	{"Link", func(t *testing.T, d *dirfd.Dir) {
		fsmNoErr(t, d.WriteFile("f", []byte("x"), 0o644))
		fsmNoErr(t, d.Link("f", "g"))
		fsmSameInode(t, d, "f", "g")
		if err := d.Link("f", "g"); !errors.Is(err, fs.ErrExist) {
			t.Errorf("Link over an existing name: %v, want ErrExist", err)
		}
	}},
	{"Rename", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file a A\nfile b B\ndir sub")
		fsmNoErr(t, d.Rename("a", "sub/a"))
		fsmNoErr(t, d.Rename("b", "sub/a")) // replaces, as rename(2)
		fsmExpect(t, d, "dir sub\nfile sub/a B")
	}},
	{"RenameNoReplace", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file a A\nfile b B")
		if err := d.RenameNoReplace("a", "b"); !errors.Is(err, fs.ErrExist) {
			t.Errorf("RenameNoReplace onto an existing name: %v, want ErrExist", err)
		}
		fsmNoErr(t, d.RenameNoReplace("a", "c"))
		fsmExpect(t, d, "file b B\nfile c A")
	}},
	{"Exchange", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file a A\ndir b\nfile b/f F")
		err := d.Exchange("a", "b")
		if !d.Capabilities().Has(capability.RenameExchange) {
			// Never emulated: it must say so and change nothing.
			if !errors.Is(err, errors.ErrUnsupported) {
				t.Errorf("Exchange without rename_exchange: %v, want ErrUnsupported", err)
			}
			fsmExpect(t, d, "file a A\ndir b\nfile b/f F")
			return
		}
		fsmNoErr(t, err)
		fsmExpect(t, d, "dir a\nfile a/f F\nfile b A")
	}},
	{"ReplaceSymlink", fsmReplaceSymlink},
	{"WriteFileReplaceWindow", fsmWriteFileWindow},
	{"CreateAtomic", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file f old")
		f, err := d.CreateAtomic("f", 0o644)
		fsmNoErr(t, err)
		_, err = f.WriteString("new")
		fsmNoErr(t, err)
		if b, err := d.ReadFile("f"); err != nil || string(b) != "old" {
			t.Errorf("before Commit, f holds %q, %v; want the old content", b, err)
		}
		fsmNoErr(t, f.Commit())
		fsmNoErr(t, f.Close())
		f, err = d.CreateAtomic("f", 0o644)
		fsmNoErr(t, err)
		_, err = f.WriteString("discarded")
		fsmNoErr(t, errors.Join(err, f.Close()))
		fsmExpect(t, d, "file f new") // and Close without Commit leaves nothing
	}},
	{"RemoveStale", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, `
			dir .racefree-0123456789abcdef0123456789abcdef
			file .racefree-0123456789abcdef0123456789abcdef/file-0123456789abcdef-1 half-written
			chmod .racefree-0123456789abcdef0123456789abcdef 700
			dir .racefree-conflict-0123
			file .racefree-conflict-0123/f somebody's
			chmod .racefree-conflict-0123 700
			dir keep`)
		removed, err := d.RemoveStale(0)
		fsmNoErr(t, err)
		if removed != 1 {
			t.Errorf("RemoveStale removed %d, want 1", removed)
		}
		fsmExpect(t, d, `
			dir .racefree-conflict-0123
			file .racefree-conflict-0123/f somebody's
			chmod .racefree-conflict-0123 700
			dir keep`)
	}},
	{"ReplaceLink", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file a A\nfile b B")
		fsmNoErr(t, d.ReplaceLink("a", "b"))
		fsmNoErr(t, d.ReplaceLink("a", "b")) // already a link to a: a no-op
		fsmSameInode(t, d, "a", "b")
		fsmNoStaging(t, d)
	}},
	{"LinkHandle", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file f F")
		h, err := d.OpenHandle("f")
		fsmNoErr(t, err)
		defer h.Close()
		fsmNoErr(t, d.Rename("f", "g")) // the handle follows the object, not the name
		err = d.LinkHandle(h, "n")
		caps := d.Capabilities()
		if errors.Is(err, errors.ErrUnsupported) && !caps.Has(capability.LinkEmptyPath) && !caps.Has(capability.LinkProcFd) {
			return // neither route: said so, as documented
		}
		fsmNoErr(t, err)
		fsmSameInode(t, d, "g", "n")
	}},
	{"RemoveIfSame", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file mine M\nfile swapped S\nfile stranger X")
		mine, err := d.OpenHandle("mine")
		fsmNoErr(t, err)
		defer mine.Close()
		swapped, err := d.OpenHandle("swapped")
		fsmNoErr(t, err)
		defer swapped.Close()
		fsmNoErr(t, d.Rename("stranger", "swapped"))
		fsmNoErr(t, d.RemoveIfSame("mine", mine))
		if err := d.RemoveIfSame("swapped", swapped); !errors.Is(err, dirfd.ErrChanged) {
			t.Errorf("RemoveIfSame of a replaced name: %v, want ErrChanged", err)
		}
		fsmExpect(t, d, "file swapped X")
	}},
	{"RenameIfSame", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, "file mine M\nfile swapped S\nfile stranger X")
		mine, err := d.OpenHandle("mine")
		fsmNoErr(t, err)
		defer mine.Close()
		swapped, err := d.OpenHandle("swapped")
		fsmNoErr(t, err)
		defer swapped.Close()
		fsmNoErr(t, d.Rename("stranger", "swapped"))
		fsmNoErr(t, d.RenameIfSame("mine", mine, "moved"))
		if err := d.RenameIfSame("swapped", swapped, "moved2"); !errors.Is(err, dirfd.ErrChanged) {
			t.Errorf("RenameIfSame of a replaced name: %v, want ErrChanged", err)
		}
		fsmExpect(t, d, "file moved M\nfile swapped X")
	}},
	{"Install", func(t *testing.T, d *dirfd.Dir) {
		// A new name, then a replacement: by exchange where the filesystem
		// has it, else in the versioned layout; either way readers of
		// app/v see one whole version and nothing is left in a stage.
		for _, v := range []string{"1", "2"} {
			var res dirfd.InstallResult
			fsmNoErr(t, d.Install("app", func(stage *dirfd.Dir) error {
				return stage.WriteFile("v", []byte(v), 0o644)
			}, dirfd.Result(&res)))
			if b, err := d.ReadFile("app/v"); err != nil || string(b) != v {
				t.Errorf("after install %s (%v), app/v holds %q, %v", v, res.Layout, b, err)
			}
		}
		fsmNoStaging(t, d)
	}},
	{"RemoveAll", func(t *testing.T, d *dirfd.Dir) {
		fsmBuild(t, d, `
			dir keep
			file keep/f K
			dir tree
			dir tree/a
			dir tree/a/b
			file tree/a/b/f F
			file tree/g G
			symlink tree/out ../keep
			symlink tree/a/abs /`)
		fsmNoErr(t, d.RemoveAll("tree"))
		fsmNoErr(t, d.RemoveAll("tree")) // already gone: no error, as os.RemoveAll
		fsmExpect(t, d, "dir keep\nfile keep/f K")
	}},
}

func TestFilesystemMatrix(t *testing.T) {
	testfs.Each(t, func(t *testing.T, tfs testfs.FS) {
		t.Run("capabilities", func(t *testing.T) { fsmCapabilities(t, tfs) })
		for _, op := range fsmOps {
			t.Run(op.name, func(t *testing.T) {
				dir := filepath.Join(tfs.Dir, op.name)
				fsmNoErr(t, os.Mkdir(dir, 0o755))
				d, err := dirfd.Open(dir)
				fsmNoErr(t, err)
				t.Cleanup(func() { d.Close() })
				op.run(t, d)
			})
		}
	})
}

// fsmTrial is what a per-filesystem feature does when asked for directly,
// in the empty directory fd.
type fsmTrial func(fd int) error

var fsmTrials = []struct {
	feature capability.Feature
	try     fsmTrial
}{
	{capability.OTmpfile, func(fd int) error {
		tfd, err := unix.Openat(fd, ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err == nil {
			unix.Close(tfd)
		}
		return err
	}},
	{capability.RenameNoReplace, func(fd int) error {
		fsmCreate(fd, "a", "b")
		if err := unix.Renameat2(fd, "a", fd, "b", unix.RENAME_NOREPLACE); err != unix.EEXIST {
			return fmt.Errorf("onto an existing name: %v, want EEXIST", err)
		}
		return unix.Renameat2(fd, "a", fd, "c", unix.RENAME_NOREPLACE)
	}},
	{capability.RenameExchange, func(fd int) error {
		fsmCreate(fd, "a", "b")
		a, b := fsmIno(fd, "a"), fsmIno(fd, "b")
		if err := unix.Renameat2(fd, "a", fd, "b", unix.RENAME_EXCHANGE); err != nil {
			return err
		}
		if fsmIno(fd, "a") != b || fsmIno(fd, "b") != a {
			return errors.New("succeeded without swapping")
		}
		return nil
	}},
	{capability.RenameWhiteout, func(fd int) error {
		fsmCreate(fd, "a")
		if err := unix.Renameat2(fd, "a", fd, "b", unix.RENAME_WHITEOUT); err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Fstatat(fd, "a", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
			return fmt.Errorf("left no whiteout (%v)", err)
		}
		return nil
	}},
}

// fsmCapabilities compares capability.ProbeDir on the filesystem with what
// the kernel does when each per-filesystem feature is tried directly.
func fsmCapabilities(t *testing.T, tfs testfs.FS) {
	dirFd := fsmOpenDir(t, tfs.Dir)
	report, err := capability.ProbeDir(dirFd)
	fsmNoErr(t, err)
	var line []string
	for _, trial := range fsmTrials {
		f := trial.feature
		got := report.Status(f)
		line = append(line, fmt.Sprintf("%s=%v (%s)", f, got.Available, got.Detail))

		scratch := filepath.Join(tfs.Dir, "kernel-"+string(f))
		fsmNoErr(t, os.Mkdir(scratch, 0o700))
		kernelErr := trial.try(fsmOpenDir(t, scratch))
		switch {
		case !capability.Has(f):
			// The process lacks it (disabled by the profile, or not in the
			// kernel for these credentials): the filesystem cannot add it.
			if got.Available {
				t.Errorf("%s: available on %s although the process report lacks it (%s)", f, tfs.Name, capability.Probe().Status(f).Detail)
			}
			// Only the profile may make the report hide what the kernel does.
			if kernelErr == nil && !capability.Disabled(f) {
				t.Errorf("%s: the kernel does it on %s, but the process report says missing (%s)", f, tfs.Name, capability.Probe().Status(f).Detail)
			}
		case kernelErr == nil:
			if !got.Available || got.Detail != capability.DetailConfirmed {
				t.Errorf("%s: the kernel does it on %s, but ProbeDir says %v (%s)", f, tfs.Name, got.Available, got.Detail)
			}
		case capability.Unsupported(kernelErr):
			if got.Available {
				t.Errorf("%s: the kernel refuses it on %s (%v), but ProbeDir says available (%s)", f, tfs.Name, kernelErr, got.Detail)
			}
		default:
			// A refusal that is not "unsupported" (EPERM: a whiteout needs
			// CAP_MKNOD) must not mark the filesystem, but must be told.
			if !got.Available || !strings.Contains(got.Detail, kernelErr.Error()) {
				t.Errorf("%s: the kernel says %v on %s, want available with that in the detail; ProbeDir says %v (%s)", f, kernelErr, tfs.Name, got.Available, got.Detail)
			}
		}
	}
	t.Logf("%s (uid %d, %s): %s", tfs.Name, unix.Geteuid(), profileName(profile()), strings.Join(line, "; "))
}

// fsmReplaceSymlink replaces current -> v1 with current -> v2 and back
// while readers read current/f by path: none may ever find it missing or
// partial (G2), and no staging directory may be left. The naive
// remove-then-symlink control and the long run are in linkat's tests; the
// point here is that the guarantee holds on this filesystem.
func fsmReplaceSymlink(t *testing.T, d *dirfd.Dir) {
	content := strings.Repeat("x", 1024)
	fsmBuild(t, d, "dir v1\nfile v1/f "+content+"\ndir v2\nfile v2/f "+content+"\nsymlink current v1")
	n := fsmReplaceWindow(t, filepath.Join(d.Name(), "current", "f"), 500,
		func(i int) error { return d.ReplaceSymlink([]string{"v2", "v1"}[i%2], "current") },
		func(b []byte) bool { return string(b) == content })
	fsmNoStaging(t, d)
	if target, err := d.Readlink("current"); err != nil || target != []string{"v2", "v1"}[(n-1)%2] {
		t.Errorf("current -> %q, %v; want the last version written", target, err)
	}
}

// fsmWriteFileWindow rewrites f with WriteFile, alternating two contents
// of one length, while readers read it: each read must give one of them
// whole (G2).
func fsmWriteFileWindow(t *testing.T, d *dirfd.Dir) {
	versions := [][]byte{bytes.Repeat([]byte("a"), 8192), bytes.Repeat([]byte("b"), 8192)}
	fsmNoErr(t, d.WriteFile("f", versions[1], 0o644))
	// Each WriteFile is durable: two fsyncs, cheap on testfs's in-memory
	// images but slow on a real disk, so fewer replaces than above.
	n := fsmReplaceWindow(t, filepath.Join(d.Name(), "f"), 50,
		func(i int) error { return d.WriteFile("f", versions[i%2], 0o644) },
		func(b []byte) bool { return bytes.Equal(b, versions[0]) || bytes.Equal(b, versions[1]) })
	fsmNoStaging(t, d)
	if b, err := d.ReadFile("f"); err != nil || !bytes.Equal(b, versions[(n-1)%2]) {
		t.Errorf("f after the last WriteFile: %d bytes, %v", len(b), err)
	}
}

// fsmReplaceWindow calls replace(0), replace(1), ... (n times, a fifth of
// that with -short) while two readers read path, and fails the test if a reader ever found it missing or read
// content that valid refuses. It returns how many replaces it made.
func fsmReplaceWindow(t *testing.T, path string, n int, replace func(i int) error, valid func([]byte) bool) int {
	t.Helper()
	if testing.Short() {
		n /= 5
	}
	var stop atomic.Bool
	var missing, invalid atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				b, err := os.ReadFile(path)
				switch {
				case errors.Is(err, fs.ErrNotExist):
					missing.Add(1)
				case err != nil:
					t.Errorf("reader: %v", err)
					return
				case !valid(b):
					invalid.Add(1)
				}
			}
		})
	}
	done := 0
	for ; done < n; done++ {
		if err := replace(done); err != nil {
			t.Errorf("replace %d: %v", done, err)
			break
		}
	}
	stop.Store(true)
	wg.Wait()
	if missing.Load() != 0 || invalid.Load() != 0 {
		t.Errorf("in %d replaces, readers found %s missing %d times and partial or mixed %d times", done, path, missing.Load(), invalid.Load())
	}
	return done
}

func fsmNoStaging(t *testing.T, d *dirfd.Dir) {
	t.Helper()
	entries, err := d.ReadDir(".")
	fsmNoErr(t, err)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), staging.Prefix) {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(d.Name(), e.Name())); err == nil && keptStage(filepath.Join(d.Name(), e.Name()), fi) {
			continue
		}
		t.Errorf("staging leftover %s", e.Name())
	}
}

func fsmNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fsmBuild creates a tree spec (see buildTree) in d, by path.
func fsmBuild(t *testing.T, d *dirfd.Dir, spec string) {
	t.Helper()
	buildTree(t, d.Name(), spec)
}

// fsmExpect checks that d holds exactly the tree spec describes: the spec
// is built in a temporary directory and the two snapshots compared.
func fsmExpect(t *testing.T, d *dirfd.Dir, spec string) {
	t.Helper()
	want := t.TempDir()
	buildTree(t, want, spec)
	if diff := cmp.Diff(snapshot(t, want), snapshot(t, d.Name())); diff != "" {
		t.Errorf("tree differs from %q (-want +got):\n%s", spec, diff)
	}
}

// fsmSameInode checks that the names a and b in d are links to one object.
func fsmSameInode(t *testing.T, d *dirfd.Dir, a, b string) {
	t.Helper()
	var ids [2][2]uint64
	for i, name := range []string{a, b} {
		fi, err := d.Lstat(name)
		fsmNoErr(t, err)
		var ok bool
		if ids[i], ok = inodeOf(fi); !ok {
			t.Fatalf("no inode for %s", name)
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("%s is %v and %s is %v, want one object", a, ids[0], b, ids[1])
	}
}

func fsmOpenDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	fsmNoErr(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func fsmCreate(dir int, names ...string) {
	for _, n := range names {
		if fd, err := unix.Openat(dir, n, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600); err == nil {
			unix.Close(fd)
		}
	}
}

func fsmIno(dir int, name string) uint64 {
	var st unix.Stat_t
	unix.Fstatat(dir, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st.Ino
}
