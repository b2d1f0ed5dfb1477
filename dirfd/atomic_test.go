//go:build unix

package dirfd_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
)

// stagingLeftovers lists the entries of dir that carry the staging prefix.
func stagingLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".racefree-") {
			out = append(out, e.Name())
		}
	}
	return out
}

func openDir(t *testing.T, root string, opts ...dirfd.Option) *dirfd.Dir {
	t.Helper()
	d, err := dirfd.Open(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func currentUmask() fs.FileMode {
	u := syscall.Umask(0o022)
	syscall.Umask(u)
	return fs.FileMode(u)
}

// TestWriteFileSemantics pins what WriteFile does to the tree, case by
// case, as os.Root.WriteFile would (made atomic). Every case also checks
// that no staging directory is left behind.
func TestWriteFileSemantics(t *testing.T) {
	umask := currentUmask()
	tests := []struct {
		name  string
		tree  string
		write string
		perm  fs.FileMode
		opts  []dirfd.Option
		// wantErr, if set, is matched with errors.Is; the tree must then be
		// unchanged. Otherwise want lists the entries expected to change.
		wantErr error
		want    map[string]entry
	}{
		{
			name: "new file gets perm less the umask", write: "new", perm: 0o664,
			want: map[string]entry{"new": {Type: "file", Mode: 0o664 &^ umask, Content: "data", Nlink: 1}},
		},
		{
			name: "existing file keeps its mode", tree: "file f old\nchmod f 0604", write: "f", perm: 0o666,
			want: map[string]entry{"f": {Type: "file", Mode: 0o604, Content: "data", Nlink: 1}},
		},
		{
			name: "existing file keeps a mode wider than the umask", tree: "file f old\nchmod f 0777", write: "f", perm: 0o600,
			want: map[string]entry{"f": {Type: "file", Mode: 0o777, Content: "data", Nlink: 1}},
		},
		{
			name: "in a subdirectory", tree: "dir a\ndir a/b\nfile a/b/f old", write: "a/b/f", perm: 0o644,
			want: map[string]entry{"a/b/f": {Type: "file", Mode: 0o644 &^ umask, Content: "data", Nlink: 1}},
		},
		{
			name: "final symlink is written through", tree: "dir a\nfile a/t old\nchmod a/t 0640\nsymlink l a/t", write: "l", perm: 0o666,
			want: map[string]entry{"a/t": {Type: "file", Mode: 0o640, Content: "data", Nlink: 1}},
		},
		{
			name: "chain of symlinks with ..", tree: "dir a\ndir b\nfile b/t old\nsymlink a/l ../b/l2\nsymlink b/l2 t", write: "a/l", perm: 0o644,
			want: map[string]entry{"b/t": {Type: "file", Mode: 0o644 &^ umask, Content: "data", Nlink: 1}},
		},
		{
			name: "dangling symlink creates its target", tree: "dir a\nsymlink l a/new", write: "l", perm: 0o644,
			want: map[string]entry{"a/new": {Type: "file", Mode: 0o644 &^ umask, Content: "data", Nlink: 1}},
		},
		{
			name: "symlink into a subdirectory through a symlinked parent", tree: "dir a\nfile a/t old\nsymlink p a\nsymlink a/l t", write: "p/l", perm: 0o644,
			want: map[string]entry{"a/t": {Type: "file", Mode: 0o644 &^ umask, Content: "data", Nlink: 1}},
		},
		{
			name: "absolute symlink in InRoot starts at the top", tree: "dir a\nfile a/t old\nchmod a/t 0600\nsymlink a/l /a/t", write: "a/l",
			opts: []dirfd.Option{dirfd.InRoot()},
			want: map[string]entry{"a/t": {Type: "file", Mode: 0o600, Content: "data", Nlink: 1}},
		},
		{name: "relative symlink out of the tree", tree: "symlink l ../outside/f", write: "l", wantErr: dirfd.ErrEscape},
		{name: "absolute symlink out of the tree", tree: "symlink l $ROOT/../outside/f", write: "l", wantErr: dirfd.ErrEscape},
		{name: "dot-dot name", write: "../outside/f", wantErr: dirfd.ErrEscape},
		{name: "final symlink with NoSymlinks", tree: "file t old\nsymlink l t", write: "l", opts: []dirfd.Option{dirfd.NoSymlinks()}, wantErr: syscall.ELOOP},
		{name: "symlink loop", tree: "symlink l m\nsymlink m l", write: "l", wantErr: syscall.ELOOP},
		{name: "trailing slash on a file", tree: "file f old", write: "f/", wantErr: syscall.EISDIR},
		{name: "trailing slash on a new name", write: "new/", wantErr: syscall.EISDIR},
		{name: "directory at name", tree: "dir d\nfile d/x keep", write: "d", wantErr: syscall.EISDIR},
		{name: "symlink to a directory", tree: "dir d\nsymlink l d", write: "l", wantErr: syscall.EISDIR},
		{name: "dot", write: ".", wantErr: syscall.EISDIR},
		{name: "missing parent", write: "nodir/f", wantErr: fs.ErrNotExist},
		{name: "file as parent", tree: "file f old", write: "f/g", wantErr: syscall.ENOTDIR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			root := filepath.Join(top, "root")
			buildTree(t, top, "dir root\ndir outside\nfile outside/f sentinel")
			buildTree(t, root, tt.tree)
			before := snapshot(t, top)
			d := openDir(t, root, tt.opts...)
			perm := tt.perm
			if perm == 0 {
				perm = 0o644
			}
			err := d.WriteFile(tt.write, []byte("data"), perm)
			if left := stagingLeftovers(t, root); len(left) != 0 {
				t.Errorf("staging leftovers: %v", left)
			}
			after := snapshot(t, top)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("WriteFile(%q) = %v, want %v", tt.write, err, tt.wantErr)
				}
				var pe *fs.PathError
				if !errors.As(err, &pe) {
					t.Errorf("error %T is not a *fs.PathError", err)
				}
				assertSameTree(t, before, after)
				return
			}
			if err != nil {
				t.Fatalf("WriteFile(%q): %v", tt.write, err)
			}
			for rel, w := range tt.want {
				before["root/"+rel] = w
			}
			assertSameTree(t, before, after)
			if got := after["outside/f"].Content; got != "sentinel" {
				t.Errorf("outside/f = %q", got)
			}
		})
	}
}

func assertSameTree(t *testing.T, want, got map[string]entry) {
	t.Helper()
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: missing, want %+v", name, w)
		} else if g != w {
			t.Errorf("%s: %+v, want %+v", name, g, w)
		}
	}
	for name, g := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected %+v", name, g)
		}
	}
}

// TestWriteFileFIFO: a FIFO is not replaced by a regular file; writing to
// one has effects the replacement would drop.
func TestWriteFileFIFO(t *testing.T) {
	root := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(root, "p"), 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	d := openDir(t, root)
	if err := d.WriteFile("p", []byte("x"), 0o644); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("WriteFile of a FIFO = %v, want EINVAL", err)
	}
	if fi, err := os.Lstat(filepath.Join(root, "p")); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v, %v", fi, err)
	}
	if left := stagingLeftovers(t, root); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
}

// TestWriteFileKeepsOwner: as root, the replacement gets the old file's
// owner and group, and the set-id bits that fchown would clear survive.
func TestWriteFileKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	root := t.TempDir()
	p := filepath.Join(root, "f")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, fs.ModeSetuid|fs.ModeSetgid|0o750); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, root)
	if err := d.WriteFile("f", []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != nobodyID || st.Gid != nobodyID {
		t.Errorf("owner %d:%d, want %d:%d", st.Uid, st.Gid, nobodyID, nobodyID)
	}
	if want := fs.ModeSetuid | fs.ModeSetgid | 0o750; fi.Mode() != want {
		t.Errorf("mode %v, want %v", fi.Mode(), want)
	}
}

// TestCreateAtomicLifecycle: nothing is visible before Commit, Close
// without Commit leaves nothing, Commit publishes, Close after Commit is a
// no-op, and a second Commit fails.
func TestCreateAtomicLifecycle(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, "file f old")
	d := openDir(t, root)
	before := snapshot(t, root)

	f, err := d.CreateAtomic("f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("discarded"); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "f")); string(data) != "old" {
		t.Errorf("before Commit, f = %q", data)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close without Commit: %v", err)
	}
	assertSameTree(t, before, snapshot(t, root))
	if err := f.Commit(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Commit after Close = %v, want fs.ErrClosed", err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	f, err = d.CreateAtomic("new", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("published"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("before Commit, new exists: %v", err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("Close after Commit: %v", err)
	}
	if err := f.Commit(); err == nil {
		t.Errorf("second Commit succeeded")
	}
	if data, err := os.ReadFile(filepath.Join(root, "new")); err != nil || string(data) != "published" {
		t.Errorf("new = %q, %v", data, err)
	}
	if left := stagingLeftovers(t, root); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
}

// TestCreateAtomicRoute checks, by looking into the stage before Commit,
// that the file is unnamed exactly when the capability report offers
// O_TMPFILE and a way to link a descriptor, and named otherwise, so that
// the profile RACEFREE_DISABLE=all really exercises the named route and
// the full profile the unnamed one.
func TestCreateAtomicRoute(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	f, err := d.CreateAtomic("f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := stagingLeftovers(t, root)
	if len(stages) != 1 {
		t.Fatalf("stages during CreateAtomic: %v, want one", stages)
	}
	inStage, err := os.ReadDir(filepath.Join(root, stages[0]))
	if err != nil {
		t.Fatal(err)
	}
	unnamed := capability.Has(capability.OTmpfile) &&
		(capability.Has(capability.LinkEmptyPath) || capability.Has(capability.LinkProcFd)) &&
		d.Capabilities().Has(capability.OTmpfile)
	switch {
	case unnamed && len(inStage) != 0:
		t.Errorf("O_TMPFILE route expected (profile %q), but the stage holds %v", profile(), inStage)
	case !unnamed && len(inStage) != 1:
		t.Errorf("named route expected (profile %q), but the stage holds %v", profile(), inStage)
	}
	if profile() == "all" && unnamed {
		t.Errorf("profile all still uses O_TMPFILE")
	}
	t.Logf("profile %q: unnamed file: %v", profile(), unnamed)
	if _, err := f.WriteString("x"); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(root, "f")); err != nil || string(data) != "x" {
		t.Errorf("f = %q, %v", data, err)
	}
}
