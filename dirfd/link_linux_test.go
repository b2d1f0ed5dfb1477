package dirfd_test

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/opath"
)

// canLinkHandles says whether LinkHandle has a route in this profile
// (RACEFREE_DISABLE=all takes both away).
func canLinkHandles() bool {
	return capability.Has(capability.LinkEmptyPath) || capability.Has(capability.LinkProcFd)
}

func openHandle(t *testing.T, d *dirfd.Dir, name string) *opath.Handle {
	t.Helper()
	h, err := d.OpenHandle(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// tmpfileHandle makes an unnamed file (O_TMPFILE) in the Dir's top
// directory, with flags added, and wraps it as a Handle.
func tmpfileHandle(t *testing.T, d *dirfd.Dir, flags int) *opath.Handle {
	t.Helper()
	fd, err := unix.Openat(int(d.Fd()), ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC|flags, 0o644)
	if err != nil {
		t.Skipf("no O_TMPFILE here: %v", err)
	}
	if _, err := unix.Write(fd, []byte("unnamed")); err != nil {
		t.Fatal(err)
	}
	h := opath.New(os.NewFile(uintptr(fd), "tmpfile"))
	t.Cleanup(func() { h.Close() })
	return h
}

func TestLinkHandle(t *testing.T) {
	if !canLinkHandles() {
		_, d := linkFixture(t)
		err := d.LinkHandle(openHandle(t, d, "b"), "x")
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("without link_empty_path and link_proc_fd: %v, want ErrUnsupported", err)
		}
		return
	}
	for _, strict := range []bool{false, true} {
		var opts []dirfd.Option
		if strict {
			// The procfs route is not an emulation: Strict allows it.
			opts = append(opts, dirfd.Strict())
		}
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			t.Run("RenamedAway", func(t *testing.T) {
				base, d := linkFixture(t, opts...)
				h := openHandle(t, d, "a/f")
				if err := os.Rename(filepath.Join(base, "root/a/f"), filepath.Join(base, "root/moved")); err != nil {
					t.Fatal(err)
				}
				// Something else now at the old name must not be what is linked.
				if err := os.WriteFile(filepath.Join(base, "root/a/f"), []byte("impostor"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := d.LinkHandle(h, "d/back"); err != nil {
					t.Fatal(err)
				}
				if !sameFile(t, filepath.Join(base, "root/moved"), filepath.Join(base, "root/d/back")) {
					t.Fatal("d/back is not the object the handle pins")
				}
			})
			t.Run("Symlink", func(t *testing.T) {
				base, d := linkFixture(t, opts...)
				h := openHandle(t, d, "esc")
				if err := d.LinkHandle(h, "esc2"); err != nil {
					t.Fatal(err)
				}
				if !sameFile(t, filepath.Join(base, "root/esc"), filepath.Join(base, "root/esc2")) {
					t.Fatal("esc2 is not the symlink esc itself")
				}
			})
			t.Run("Tmpfile", func(t *testing.T) {
				base, d := linkFixture(t, opts...)
				h := tmpfileHandle(t, d, 0)
				if err := d.LinkHandle(h, "a/named"); err != nil {
					t.Fatal(err)
				}
				if b, err := os.ReadFile(filepath.Join(base, "root/a/named")); err != nil || string(b) != "unnamed" {
					t.Fatalf("a/named: %q, %v", b, err)
				}
			})
		})
	}

	// What the kernel refuses, and what the tree refuses.
	for _, c := range []struct {
		name    string
		handle  func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle
		newname string
		want    error
	}{
		{"Directory", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "d") }, "x", syscall.EPERM},
		// An object that lost its last name cannot be given a new one...
		{"Deleted", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle {
			h := openHandle(t, d, "b")
			if err := os.Remove(filepath.Join(base, "root/b")); err != nil {
				t.Fatal(err)
			}
			return h
		}, "x", fs.ErrNotExist},
		{"DeletedOpenFile", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle {
			f, err := d.Open("b")
			if err != nil {
				t.Fatal(err)
			}
			h := opath.New(f)
			t.Cleanup(func() { h.Close() })
			if err := os.Remove(filepath.Join(base, "root/b")); err != nil {
				t.Fatal(err)
			}
			return h
		}, "x", fs.ErrNotExist},
		// ...and neither can an O_TMPFILE made with O_EXCL.
		{"TmpfileExcl", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle {
			return tmpfileHandle(t, d, unix.O_EXCL)
		}, "x", fs.ErrNotExist},
		{"Exists", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "a/f") }, "b", fs.ErrExist},
		{"MissingParent", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "a/f") }, "nodir/x", fs.ErrNotExist},
		{"Closed", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle {
			h := openHandle(t, d, "a/f")
			h.Close()
			return h
		}, "x", os.ErrClosed},
		{"NilHandle", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return nil }, "x", fs.ErrInvalid},
		{"Nul", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "a/f") }, "x\x00", fs.ErrInvalid},
		{"Empty", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "a/f") }, "", fs.ErrInvalid},
		{"EscapesByDotDot", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "a/f") }, "../outside/x", dirfd.ErrEscape},
		{"EscapesBySymlink", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "a/f") }, "esc/x", dirfd.ErrEscape},
		{"Absolute", func(t *testing.T, base string, d *dirfd.Dir) *opath.Handle { return openHandle(t, d, "a/f") }, "/x", dirfd.ErrEscape},
	} {
		t.Run(c.name, func(t *testing.T) {
			base, d := linkFixture(t)
			h := c.handle(t, base, d)
			before := snapshot(t, base)
			err := d.LinkHandle(h, c.newname)
			if !errors.Is(err, c.want) {
				t.Fatalf("LinkHandle(%s, %q): %v, want %v", c.name, c.newname, err, c.want)
			}
			var le *os.LinkError
			if !errors.As(err, &le) || le.Op != "linkat" || le.New != c.newname {
				t.Fatalf("error %#v is not *os.LinkError{linkat, _, %q}", err, c.newname)
			}
			assertSameTree(t, before, snapshot(t, base))
		})
	}
}

// linkHandleProfileEnv marks the child of TestLinkHandleProcfsRoute.
const linkHandleProfileEnv = "RACEFREE_TEST_LINKHANDLE_PROFILE"

// TestLinkHandleProcfsRoute reruns TestLinkHandle with link_empty_path
// disabled, so the /proc/thread-self/fd route is what links: the dirfd
// profiles only disable it together with everything else.
func TestLinkHandleProcfsRoute(t *testing.T) {
	if os.Getenv(linkHandleProfileEnv) != "" {
		t.Skip("already in the procfs profile")
	}
	if !capability.Has(capability.LinkProcFd) {
		t.Skip("link_proc_fd is missing in this profile: the route cannot run")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLinkHandle$", "-test.v")
	cmd.Env = append(os.Environ(), linkHandleProfileEnv+"=1", noReexecEnv+"=1", capability.EnvDisable+"=link_empty_path")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestLinkHandle/strict=true/Tmpfile") {
		t.Fatalf("TestLinkHandle with RACEFREE_DISABLE=link_empty_path: %v\n%s", err, out)
	}
}

func ExampleDir_LinkHandle() {
	dir := exampleTree(map[string]string{"incoming/upload": "checked content\n"}, nil)
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	if err := d.Mkdir("accepted", 0o755); err != nil {
		log.Fatal(err)
	}

	// Pin the upload, then check it (here: its size) through the handle.
	h, err := d.OpenHandle("incoming/upload")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if fi, err := h.Stat(); err != nil || fi.Size() > 1<<20 {
		log.Fatal("rejected")
	}

	// Meanwhile the uploader swaps something else in under the name.
	os.Rename(filepath.Join(dir, "incoming/upload"), filepath.Join(dir, "incoming/old"))
	os.WriteFile(filepath.Join(dir, "incoming/upload"), []byte("unchecked\n"), 0o644)

	// Accept exactly the object that was checked.
	err = d.LinkHandle(h, "accepted/upload")
	if errors.Is(err, errors.ErrUnsupported) {
		// No flink on this system: keep using the handle itself.
		f, err := h.Reopen(os.O_RDONLY)
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		io.Copy(os.Stdout, f)
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	data, err := d.ReadFile("accepted/upload")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(data))
	// Output: checked content
}
