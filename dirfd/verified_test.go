//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/internal/staging"
)

// A spool handler removes a job file it has processed. Between opening it
// and removing it, someone replaced the name with another file: that file
// is not removed.
func ExampleDir_RemoveIfSame() {
	dir := exampleTree(map[string]string{"spool/job": "mine\n"}, nil)
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	h, err := d.OpenHandle("spool/job")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	// Someone else's file takes the name.
	if err := os.Rename(filepath.Join(dir, "spool"), filepath.Join(dir, "old-spool")); err != nil {
		log.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "spool"), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "spool/job"), []byte("theirs\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	err = d.RemoveIfSame("spool/job", h)
	fmt.Println("changed:", errors.Is(err, dirfd.ErrChanged))
	data, _ := d.ReadFile("spool/job")
	fmt.Print("still there: ", string(data))

	// Our own file, where it is now, is removed.
	err = d.RemoveIfSame("old-spool/job", h)
	fmt.Println("removed ours:", err)
	// Output:
	// changed: true
	// still there: theirs
	// removed ours: <nil>
}

// A log rotator renames the file it has open, and only that file.
func ExampleDir_RenameIfSame() {
	dir := exampleTree(map[string]string{"app.log": "today\n"}, nil)
	defer os.RemoveAll(dir)
	d, err := dirfd.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	h, err := d.OpenHandle("app.log")
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()
	if err := d.RenameIfSame("app.log", h, "app.log.1"); err != nil {
		log.Fatal(err)
	}
	data, _ := d.ReadFile("app.log.1")
	fmt.Print("rotated: ", string(data))

	// The handle's object is no longer under app.log: nothing moves.
	if err := d.WriteFile("app.log", []byte("new\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	err = d.RenameIfSame("app.log", h, "app.log.2")
	fmt.Println("changed:", errors.Is(err, dirfd.ErrChanged))
	// Output:
	// rotated: today
	// changed: true
}

// verifiedFixture makes a Dir over a fresh tree: files f (content "F") and
// g ("G"), directories d and full (holding full/x).
func verifiedFixture(t *testing.T, opts ...dirfd.Option) (string, *dirfd.Dir) {
	t.Helper()
	root := t.TempDir()
	buildTree(t, root, `
		file f F
		file g G
		dir d
		dir full
		file full/x X
	`)
	d, err := dirfd.Open(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return root, d
}

// leftStages lists the staging directories in dir, but for the empty
// stages an open Dir keeps (see keptStage).
func leftStages(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), staging.Prefix) {
			continue
		}
		if fi, err := e.Info(); err == nil && keptStage(filepath.Join(dir, e.Name()), fi) {
			continue
		}
		out = append(out, e.Name())
	}
	return out
}

// dirsNeedCompare reports whether, in this profile, a directory can only be
// handled with the fstatat-compare sequences (no no-replace rename).
func dirsNeedCompare() bool {
	return !capability.Has(capability.Funlinkat) && !capability.Has(capability.RenameNoReplace) && !capability.Has(capability.RenameatxNp)
}

func TestRemoveIfSame(t *testing.T) {
	root, d := verifiedFixture(t)
	for _, name := range []string{"f", "d", "d/"} {
		if name == "d/" {
			if err := os.Mkdir(filepath.Join(root, "d"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		h, err := d.OpenHandle(strings.TrimSuffix(name, "/"))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.RemoveIfSame(name, h); err != nil {
			t.Errorf("RemoveIfSame(%s): %v", name, err)
		}
		h.Close()
		if _, err := d.Lstat(strings.TrimSuffix(name, "/")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s still there: %v", name, err)
		}
	}
	if l := leftStages(t, root); len(l) > 0 {
		t.Errorf("staging leftovers: %v", l)
	}
}

func TestRemoveIfSameChanged(t *testing.T) {
	root, d := verifiedFixture(t)
	h, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := d.Rename("g", "f"); err != nil { // g's object takes f's name
		t.Fatal(err)
	}
	err = d.RemoveIfSame("f", h)
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != "f" || !errors.Is(err, dirfd.ErrChanged) || !errors.Is(err, fallback.ErrChanged) {
		t.Fatalf("got %#v, want a *fs.PathError for f matching ErrChanged", err)
	}
	if data, err := d.ReadFile("f"); err != nil || string(data) != "G" {
		t.Fatalf("f after a refused removal: %q, %v", data, err)
	}
	if l := leftStages(t, root); len(l) > 0 {
		t.Errorf("staging leftovers: %v", l)
	}
}

// TestIfSameChangedToUnmovableDirectory: the name now refers to a
// directory we may not move (no write permission on it, so its ".." cannot
// be rewritten; as root it can be, and is put back). Either way the answer
// is ErrChanged, not a permission error, and the directory is kept: under
// its name, or, where it cannot be put back without risking replacing an
// empty directory (no no-replace rename for directories), under the
// conflict name the error gives.
func TestIfSameChangedToUnmovableDirectory(t *testing.T) {
	for _, op := range []string{"RemoveIfSame", "RenameIfSame"} {
		root, d := verifiedFixture(t)
		h, err := d.OpenHandle("f")
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Remove("f"); err != nil {
			t.Fatal(err)
		}
		if err := d.Mkdir("f", 0o555); err != nil {
			t.Fatal(err)
		}
		if op == "RemoveIfSame" {
			err = d.RemoveIfSame("f", h)
		} else {
			err = d.RenameIfSame("f", h, "moved")
		}
		h.Close()
		if !errors.Is(err, dirfd.ErrChanged) {
			t.Errorf("%s: %v, want ErrChanged", op, err)
		}
		at := "f"
		var ce *fallback.ConflictError
		if errors.As(err, &ce) {
			at = ce.Name
		}
		if fi, err := d.Lstat(at); err != nil || !fi.IsDir() {
			t.Errorf("%s: the directory is not at %s: %v", op, at, err)
		}
		if l := leftStages(t, root); len(l) > 0 {
			t.Errorf("%s: staging leftovers: %v", op, l)
		}
		os.Chmod(filepath.Join(root, at), 0o755)
	}
}

func TestRemoveIfSameErrors(t *testing.T) {
	_, d := verifiedFixture(t)
	h, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dh, err := d.OpenHandle("full")
	if err != nil {
		t.Fatal(err)
	}
	defer dh.Close()
	for _, tc := range []struct {
		name string
		want error
	}{
		{"", fs.ErrInvalid},
		{"f\x00", fs.ErrInvalid},
		{".", syscall.EINVAL},
		{"..", dirfd.ErrEscape},
		{"d/..", syscall.EINVAL},
		{"f/", syscall.ENOTDIR},
		{"missing", fs.ErrNotExist},
		{"../f", dirfd.ErrEscape},
	} {
		if err := d.RemoveIfSame(tc.name, h); !errors.Is(err, tc.want) {
			t.Errorf("RemoveIfSame(%q) = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := d.RemoveIfSame("full", dh); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Errorf("RemoveIfSame(full) = %v, want ENOTEMPTY", err)
	}
	if err := d.RemoveIfSame("f", nil); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("nil handle: %v, want ErrInvalid", err)
	}
	closed, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := d.RemoveIfSame("f", closed); !errors.Is(err, os.ErrClosed) {
		t.Errorf("closed handle: %v, want ErrClosed", err)
	}
	for _, name := range []string{"f", "full/x"} {
		if _, err := d.Lstat(name); err != nil {
			t.Errorf("a failed RemoveIfSame removed %s: %v", name, err)
		}
	}
}

// TestRemoveIfSameStrict: a Strict Dir refuses the sequence with a window,
// which is all there is for a directory where no no-replace rename exists.
func TestRemoveIfSameStrict(t *testing.T) {
	_, d := verifiedFixture(t, dirfd.Strict())
	h, err := d.OpenHandle("d")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = d.RemoveIfSame("d", h)
	if dirsNeedCompare() {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Strict, profile %q: got %v, want ErrUnsupported", profile(), err)
		}
		if _, err := d.Lstat("d"); err != nil {
			t.Fatalf("a refused removal removed d: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Strict, profile %q: %v", profile(), err)
	}
}

func TestRenameIfSameStrict(t *testing.T) {
	_, d := verifiedFixture(t, dirfd.Strict())
	h, err := d.OpenHandle("d")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	err = d.RenameIfSame("d", h, "e")
	if dirsNeedCompare() {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Strict, profile %q: got %v, want ErrUnsupported", profile(), err)
		}
		if _, err := d.Lstat("d"); err != nil {
			t.Fatalf("a refused rename moved d: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Strict, profile %q: %v", profile(), err)
	}
}

func TestRenameIfSame(t *testing.T) {
	root, d := verifiedFixture(t)
	for _, tc := range []struct{ old, new string }{{"f", "f2"}, {"d", "d2"}, {"d2/", "d3/"}} {
		h, err := d.OpenHandle(strings.TrimSuffix(tc.old, "/"))
		if err != nil {
			t.Fatal(err)
		}
		before, err := h.Stat()
		if err != nil {
			t.Fatal(err)
		}
		if err := d.RenameIfSame(tc.old, h, tc.new); err != nil {
			t.Errorf("RenameIfSame(%s, %s): %v", tc.old, tc.new, err)
		}
		h.Close()
		after, err := d.Lstat(strings.TrimSuffix(tc.new, "/"))
		bi, _ := inodeOf(before)
		if ai, ok := inodeOf(after); err != nil || !ok || ai != bi {
			t.Errorf("%s is not the object of %s: %v", tc.new, tc.old, err)
		}
	}
	if l := leftStages(t, root); len(l) > 0 {
		t.Errorf("staging leftovers: %v", l)
	}
}

func TestRenameIfSameChanged(t *testing.T) {
	root, d := verifiedFixture(t)
	h, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := d.Rename("g", "f"); err != nil {
		t.Fatal(err)
	}
	err = d.RenameIfSame("f", h, "moved")
	var le *os.LinkError
	if !errors.As(err, &le) || le.Old != "f" || le.New != "moved" || !errors.Is(err, dirfd.ErrChanged) {
		t.Fatalf("got %#v, want an *os.LinkError matching ErrChanged", err)
	}
	if _, err := d.Lstat("moved"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("something was moved: %v", err)
	}
	if data, _ := d.ReadFile("f"); string(data) != "G" {
		t.Fatalf("f holds %q, want G", data)
	}
	if l := leftStages(t, root); len(l) > 0 {
		t.Errorf("staging leftovers: %v", l)
	}
}

func TestRenameIfSameErrors(t *testing.T) {
	_, d := verifiedFixture(t)
	h, err := d.OpenHandle("f")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, tc := range []struct {
		old, new string
		want     error
	}{
		{"", "x", fs.ErrInvalid},
		{"f", "", fs.ErrInvalid},
		{"f", "x\x00", fs.ErrInvalid},
		{".", "x", syscall.EINVAL},
		{"f", "..", dirfd.ErrEscape},
		{"f", "d/..", syscall.EINVAL},
		{"f/", "x", syscall.ENOTDIR},
		{"f", "x/", syscall.ENOTDIR},
		{"missing", "x", fs.ErrNotExist},
		{"f", "../x", dirfd.ErrEscape},
		{"f", "nodir/x", fs.ErrNotExist},
	} {
		err := d.RenameIfSame(tc.old, h, tc.new)
		var le *os.LinkError
		if !errors.Is(err, tc.want) || !errors.As(err, &le) {
			t.Errorf("RenameIfSame(%q, %q) = %v, want an *os.LinkError matching %v", tc.old, tc.new, err, tc.want)
		}
	}
	if data, err := d.ReadFile("f"); err != nil || string(data) != "F" {
		t.Errorf("failed renames changed f: %q, %v", data, err)
	}
}
