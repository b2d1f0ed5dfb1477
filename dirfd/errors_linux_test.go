//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

const errorsTree = `
	dir d
	file d/f inside-f
	file top top
	symlink loop loop
	symlink ln top
	symlink ld d
`

// namedOp is a Dir method applied to one name; two-name methods take the
// name in the position the label says, with a good name in the other.
type namedOp struct {
	label string
	run   func(d *dirfd.Dir, name string) error
}

func closeFile(f *os.File, err error) error {
	if err == nil {
		f.Close()
	}
	return err
}

var namedOps = []namedOp{
	{"Open", func(d *dirfd.Dir, n string) error { return closeFile(d.Open(n)) }},
	{"OpenFile(O_CREATE)", func(d *dirfd.Dir, n string) error {
		return closeFile(d.OpenFile(n, os.O_CREATE|os.O_WRONLY, 0o644))
	}},
	{"Create", func(d *dirfd.Dir, n string) error { return closeFile(d.Create(n)) }},
	{"Stat", func(d *dirfd.Dir, n string) error { _, err := d.Stat(n); return err }},
	{"Lstat", func(d *dirfd.Dir, n string) error { _, err := d.Lstat(n); return err }},
	{"ReadFile", func(d *dirfd.Dir, n string) error { _, err := d.ReadFile(n); return err }},
	{"WriteFile", func(d *dirfd.Dir, n string) error { return d.WriteFile(n, []byte("x"), 0o644) }},
	{"ReadDir", func(d *dirfd.Dir, n string) error { _, err := d.ReadDir(n); return err }},
	{"Readlink", func(d *dirfd.Dir, n string) error { _, err := d.Readlink(n); return err }},
	{"OpenDir", func(d *dirfd.Dir, n string) error {
		sub, err := d.OpenDir(n)
		if err == nil {
			sub.Close()
		}
		return err
	}},
	{"OpenHandle", func(d *dirfd.Dir, n string) error {
		h, err := d.OpenHandle(n)
		if err == nil {
			h.Close()
		}
		return err
	}},
	{"Mkdir", func(d *dirfd.Dir, n string) error { return d.Mkdir(n, 0o755) }},
	{"MkdirAll", func(d *dirfd.Dir, n string) error { return d.MkdirAll(n, 0o755) }},
	{"Remove", func(d *dirfd.Dir, n string) error { return d.Remove(n) }},
	{"Chmod", func(d *dirfd.Dir, n string) error { return d.Chmod(n, 0o600) }},
	{"Chtimes", func(d *dirfd.Dir, n string) error {
		return d.Chtimes(n, time.Unix(1, 0), time.Unix(1, 0))
	}},
	{"Lchown", func(d *dirfd.Dir, n string) error { return d.Lchown(n, -1, -1) }},
	{"Symlink(newname)", func(d *dirfd.Dir, n string) error { return d.Symlink("top", n) }},
	{"Link(oldname)", func(d *dirfd.Dir, n string) error { return d.Link(n, "linked") }},
	{"Link(newname)", func(d *dirfd.Dir, n string) error { return d.Link("top", n) }},
	{"Rename(oldname)", func(d *dirfd.Dir, n string) error { return d.Rename(n, "renamed") }},
	{"Rename(newname)", func(d *dirfd.Dir, n string) error { return d.Rename("top", n) }},
}

// TestBadNames: every method refuses a malformed or unresolvable name with
// a *fs.PathError (*os.LinkError for the two-name methods, as os does) that
// matches the expected cause, and changes nothing.
func TestBadNames(t *testing.T) {
	longName := strings.Repeat("d/", 2048) + "f" // 4097 bytes: longer than PATH_MAX
	longComponent := strings.Repeat("n", 256)    // NAME_MAX is 255
	cases := []struct {
		name string
		path string
		want error
	}{
		{"empty name", "", fs.ErrInvalid},
		{"NUL byte", "d/f\x00x", fs.ErrInvalid},
		{"NUL byte only", "\x00", fs.ErrInvalid},
		{"absolute name", "/top", dirfd.ErrEscape},
		{"name of 4097 bytes", longName, unix.ENAMETOOLONG},
		{"name of exactly 4096 bytes", longName[:4096], unix.ENAMETOOLONG},
		{"component of 256 bytes", longComponent, unix.ENAMETOOLONG},
		{"component of 256 bytes mid-path", "d/" + longComponent + "/f", unix.ENAMETOOLONG},
		{"symlink loop mid-path", "loop/x", unix.ELOOP},
		{"non-directory mid-path", "top/x", unix.ENOTDIR},
		{"symlink to a non-directory mid-path", "ln/x", unix.ENOTDIR},
		{"dotdot out of the top", "../x", dirfd.ErrEscape},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			buildTree(t, root, errorsTree)
			before := snapshot(t, root)
			d, err := dirfd.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for _, o := range namedOps {
				err := o.run(d, c.path)
				what := fmt.Sprintf("%s(%.40q)", o.label, c.path)
				if err == nil {
					t.Errorf("%s succeeded, want %v", what, c.want)
					continue
				}
				if !errors.Is(err, c.want) {
					t.Errorf("%s = %v, want %v", what, err, c.want)
				}
				var pe *fs.PathError
				var le *os.LinkError
				if strings.HasPrefix(o.label, "Link") || strings.HasPrefix(o.label, "Rename") || strings.HasPrefix(o.label, "Symlink") {
					if !errors.As(err, &le) {
						t.Errorf("%s = %v (%T), want an *os.LinkError", what, err, err)
					}
				} else if !errors.As(err, &pe) {
					t.Errorf("%s = %v (%T), want a *fs.PathError", what, err, err)
				}
				if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
					t.Fatalf("%s changed the tree (-before +after):\n%s", what, diff)
				}
			}
		})
	}
}

// TestOpenBadPath: Open itself refuses bad names the same way.
func TestOpenBadPath(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, "file f x")
	for _, c := range []struct {
		path string
		want error
	}{
		{"", fs.ErrInvalid},
		{root + "/\x00", fs.ErrInvalid},
		{root + "/f", unix.ENOTDIR},
		{root + "/missing", fs.ErrNotExist},
		{root + "/" + strings.Repeat("x", 256), unix.ENAMETOOLONG},
	} {
		d, err := dirfd.Open(c.path)
		if err == nil {
			d.Close()
			t.Errorf("Open(%.40q) succeeded, want %v", c.path, c.want)
			continue
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || !errors.Is(err, c.want) {
			t.Errorf("Open(%.40q) = %v (%T), want a *fs.PathError matching %v", c.path, err, err, c.want)
		}
	}
}

// TestSymlinkChainLimit: the kernel follows at most 40 symlinks in one
// lookup (MAXSYMLINKS); every resolver must agree, so a chain of 39 or 40
// links resolves and one of 41 fails with ELOOP.
func TestSymlinkChainLimit(t *testing.T) {
	for _, n := range []int{1, 39, 40, 41, 60} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			root := t.TempDir()
			var spec strings.Builder
			spec.WriteString("dir d\nfile d/target end-of-chain\n")
			// c0 -> c1 -> ... -> c(n-1) -> d/target: following c0 follows n links.
			for i := range n {
				next := fmt.Sprintf("c%d", i+1)
				if i == n-1 {
					next = "d/target"
				}
				fmt.Fprintf(&spec, "symlink c%d %s\n", i, next)
			}
			buildTree(t, root, spec.String())
			d, err := dirfd.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()

			checks := map[string]func() error{
				"ReadFile": func() error {
					data, err := d.ReadFile("c0")
					if err == nil && string(data) != "end-of-chain" {
						return fmt.Errorf("read %q", data)
					}
					return err
				},
				"Stat":  func() error { _, err := d.Stat("c0"); return err },
				"Chmod": func() error { return d.Chmod("c0", 0o640) },
				// A trailing slash makes the chain be followed for a
				// directory lookup, which fails at its end (a file).
				"Stat(c0/)": func() error { _, err := d.Stat("c0/"); return err },
			}
			for name, check := range checks {
				err := check()
				switch {
				case name == "Stat(c0/)":
					// The chain ends at a file: with a trailing slash that
					// is ENOTDIR, unless the limit is hit first.
					want := error(unix.ENOTDIR)
					if n > 40 {
						want = unix.ELOOP
					}
					if !errors.Is(err, want) {
						t.Errorf("%s over %d links = %v, want %v", name, n, err, want)
					}
				case n <= 40 && err != nil:
					t.Errorf("%s over %d links = %v, want success", name, n, err)
				case n > 40 && !errors.Is(err, unix.ELOOP):
					t.Errorf("%s over %d links = %v, want ELOOP", name, n, err)
				}
			}

			// With NoSymlinks, a single link is already too many.
			ns, err := dirfd.Open(root, dirfd.NoSymlinks())
			if err != nil {
				t.Fatal(err)
			}
			defer ns.Close()
			if _, err := ns.Stat("c0"); !errors.Is(err, unix.ELOOP) {
				t.Errorf("NoSymlinks: Stat over %d links = %v, want ELOOP", n, err)
			}
		})
	}
}

// TestONofollow: O_NOFOLLOW applies to the final component only, and a
// final symlink then fails with ELOOP, as open(2) says. os.Root differs
// here: it follows a final symlink in spite of O_NOFOLLOW.
func TestONofollow(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, errorsTree)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	before := snapshot(t, root)

	for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR | os.O_CREATE, os.O_WRONLY | os.O_TRUNC} {
		f, err := d.OpenFile("ln", flag|unix.O_NOFOLLOW, 0o644)
		if err == nil {
			f.Close()
			t.Errorf("OpenFile(ln, %#x|O_NOFOLLOW) succeeded, want ELOOP", flag)
			continue
		}
		var pe *fs.PathError
		if !errors.Is(err, unix.ELOOP) || !errors.As(err, &pe) {
			t.Errorf("OpenFile(ln, %#x|O_NOFOLLOW) = %v, want a *fs.PathError with ELOOP", flag, err)
		}
	}
	if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
		t.Errorf("refused O_NOFOLLOW opens changed the tree:\n%s", diff)
	}
	// A symlink before the final component is followed as usual.
	f, err := d.OpenFile("ld/f", os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		t.Fatalf("OpenFile(ld/f, O_NOFOLLOW) = %v, want success", err)
	}
	f.Close()
	// Without O_NOFOLLOW the final symlink is followed.
	f, err = d.OpenFile("ln", os.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("OpenFile(ln) = %v, want success", err)
	}
	f.Close()
}

// TestSearchOnlyDirectories: a directory with search but no read permission
// (0311) can be walked through by its owner, as by the kernel's own lookup.
// Root ignores permissions, so this needs a non-root run (the uid 65534
// re-run TestMain does when started as root). The portable profile opens
// every directory it walks through with O_RDONLY, which needs read
// permission, so it is skipped there.
func TestSearchOnlyDirectories(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root bypasses directory permissions; this runs in the non-root re-run")
	}
	if profile() == "all" {
		t.Skip("RACEFREE_DISABLE=all: the portable walk opens directories O_RDONLY and needs read permission")
	}
	root := t.TempDir()
	buildTree(t, root, `
		dir locked
		dir locked/sub
		file locked/sub/f secret-inside
		chmod locked/sub 0311
		chmod locked 0311
	`)
	t.Cleanup(func() {
		os.Chmod(filepath.Join(root, "locked"), 0o755)
		os.Chmod(filepath.Join(root, "locked/sub"), 0o755)
	})
	if _, err := os.ReadDir(filepath.Join(root, "locked")); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("os.ReadDir of a 0311 directory = %v, want a permission error: the test cannot show anything", err)
	}
	for _, opts := range [][]dirfd.Option{{dirfd.Beneath()}, {dirfd.InRoot()}, {dirfd.NoSymlinks()}} {
		d, err := dirfd.Open(root, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if data, err := d.ReadFile("locked/sub/f"); err != nil || string(data) != "secret-inside" {
			t.Errorf("ReadFile through 0311 directories = %q, %v", data, err)
		}
		if _, err := d.Stat("locked/sub/f"); err != nil {
			t.Errorf("Stat through 0311 directories: %v", err)
		}
		if err := d.WriteFile("locked/sub/new", []byte("x"), 0o644); err != nil {
			t.Errorf("WriteFile in a 0311 directory: %v", err)
		}
		if err := d.Mkdir("locked/sub/dir", 0o755); err != nil {
			t.Errorf("Mkdir in a 0311 directory: %v", err)
		}
		if err := d.Rename("locked/sub/new", "locked/sub/new2"); err != nil {
			t.Errorf("Rename in a 0311 directory: %v", err)
		}
		for _, n := range []string{"locked/sub/new2", "locked/sub/dir"} {
			if err := d.Remove(n); err != nil {
				t.Errorf("Remove(%s) in a 0311 directory: %v", n, err)
			}
		}
		sub, err := d.OpenDir("locked/sub")
		if err != nil {
			t.Errorf("OpenDir of a 0311 directory: %v", err)
		} else {
			if _, err := sub.Stat("f"); err != nil {
				t.Errorf("Stat in a Dir opened on a 0311 directory: %v", err)
			}
			sub.Close()
		}
		d.Close()
	}
}

// TestCloseWhileInUse: Close while other goroutines are opening through the
// Dir returns cleanly, every call either works or fails with fs.ErrClosed,
// every call after Close fails with fs.ErrClosed, and a second Close
// reports fs.ErrClosed. Meant to be run with -race.
func TestCloseWhileInUse(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, errorsTree)
	d, err := dirfd.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		closed  atomic.Bool
		opened  atomic.Int64
		refused atomic.Int64
	)
	errs := make(chan error, 16)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				wasClosed := closed.Load()
				var err error
				if g%2 == 0 {
					var f *os.File
					if f, err = d.Open("d/f"); err == nil {
						if _, err = f.Stat(); err != nil {
							err = fmt.Errorf("stat of an open file: %w", err)
						}
						f.Close()
					}
				} else {
					_, err = d.Stat("ld/f")
				}
				switch {
				case err == nil && wasClosed:
					errs <- errors.New("a call started after Close succeeded")
					return
				case err == nil:
					opened.Add(1)
				case errors.Is(err, fs.ErrClosed):
					refused.Add(1)
					var pe *fs.PathError
					if !errors.As(err, &pe) {
						errs <- fmt.Errorf("refusal %v (%T) is not a *fs.PathError", err, err)
						return
					}
				default:
					errs <- fmt.Errorf("unexpected error while closing: %w", err)
					return
				}
			}
		}()
	}
	// Let the goroutines get going.
	for deadline := time.Now().Add(5 * time.Second); opened.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := d.Close(); err != nil {
		t.Errorf("Close while in use: %v", err)
	}
	closed.Store(true) // calls that start from now on must be refused
	for deadline := time.Now().Add(5 * time.Second); refused.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if refused.Load() == 0 {
		t.Errorf("no call was refused after Close")
	}

	for _, o := range namedOps {
		if err := o.run(d, "top"); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s after Close = %v, want fs.ErrClosed", o.label, err)
		}
	}
	if _, err := d.OpenDir("d"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("OpenDir after Close = %v, want fs.ErrClosed", err)
	}
	if err := d.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close = %v, want fs.ErrClosed", err)
	}
}

// TestDescriptorsCloseOnExec: every descriptor a Dir hands out is
// close-on-exec (G4).
func TestDescriptorsCloseOnExec(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, errorsTree)
	checkCloexec := func(what string, fd uintptr) {
		t.Helper()
		flags, err := unix.FcntlInt(fd, unix.F_GETFD, 0)
		if err != nil {
			t.Errorf("%s: F_GETFD: %v", what, err)
			return
		}
		if flags&unix.FD_CLOEXEC == 0 {
			t.Errorf("%s: descriptor %d is not close-on-exec", what, fd)
		}
	}
	for i, opts := range [][]dirfd.Option{{dirfd.Beneath()}, {dirfd.InRoot()}, {dirfd.NoSymlinks()}, {dirfd.NoXDev()}} {
		noSymlinks := i == 2
		d, err := dirfd.Open(root, opts...)
		if err != nil {
			t.Fatal(err)
		}
		checkCloexec("Open", d.Fd())

		for _, c := range []struct {
			what string
			open func() (*os.File, error)
		}{
			{"Dir.Open", func() (*os.File, error) { return d.Open("d/f") }},
			{"Dir.Open of a directory", func() (*os.File, error) { return d.Open("d") }},
			{"Dir.Create", func() (*os.File, error) { return d.Create("created") }},
			{"Dir.OpenFile(O_RDWR)", func() (*os.File, error) { return d.OpenFile("top", os.O_RDWR, 0) }},
			{"Dir.OpenFile(O_CREATE|O_EXCL)", func() (*os.File, error) {
				os.Remove(filepath.Join(root, "excl"))
				return d.OpenFile("excl", os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			}},
			{"Dir.OpenFile through a symlink", func() (*os.File, error) { return d.OpenFile("ld/f", os.O_RDONLY, 0) }},
			{"Dir.OpenFile(O_PATH)", func() (*os.File, error) { return d.OpenFile("top", unix.O_PATH, 0) }},
		} {
			f, err := c.open()
			if err != nil {
				if noSymlinks && errors.Is(err, unix.ELOOP) && strings.Contains(c.what, "symlink") {
					continue // refused, as it must be
				}
				t.Errorf("%s: %v", c.what, err)
				continue
			}
			checkCloexec(c.what, f.Fd())
			f.Close()
		}

		sub, err := d.OpenDir("d")
		if err != nil {
			t.Fatal(err)
		}
		checkCloexec("OpenDir", sub.Fd())
		if f, err := sub.Open("f"); err == nil {
			checkCloexec("OpenDir then Open", f.Fd())
			f.Close()
		} else {
			t.Error(err)
		}
		sub.Close()

		for _, name := range []string{"top", "d", "ln"} {
			h, err := d.OpenHandle(name) // a final symlink is not followed, so NoSymlinks allows "ln"
			if err != nil {
				t.Errorf("OpenHandle(%s): %v", name, err)
				continue
			}
			checkCloexec("OpenHandle("+name+")", h.Fd())
			if name != "ln" {
				if f, err := h.Reopen(os.O_RDONLY); err == nil {
					checkCloexec("OpenHandle("+name+").Reopen", f.Fd())
					f.Close()
				} else {
					t.Errorf("OpenHandle(%s).Reopen: %v", name, err)
				}
			}
			h.Close()
		}
		d.Close()
	}

	// FromFile duplicates the descriptor of a file that is not
	// close-on-exec; the duplicate must be.
	fd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0) // no O_CLOEXEC on purpose
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), root)
	defer f.Close()
	d, err := dirfd.FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	checkCloexec("FromFile", d.Fd())
	if g, err := d.Open("top"); err == nil {
		checkCloexec("FromFile then Open", g.Fd())
		g.Close()
	} else {
		t.Error(err)
	}
	d.Close()
}
