//go:build unix

package dirfd_test

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
)

// stagingLeftovers lists the entries of dir that carry the staging prefix,
// but for the empty stages that open Dirs keep (see keptStage).
func stagingLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".racefree-") {
			continue
		}
		if fi, err := e.Info(); err == nil && keptStage(filepath.Join(dir, e.Name()), fi) {
			continue
		}
		out = append(out, e.Name())
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
// owner, group and permissions, but not its set-ID bits (S7: they vouched
// for the old content).
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
	if want := fs.FileMode(0o750); fi.Mode() != want {
		t.Errorf("mode %v, want %v", fi.Mode(), want)
	}
}

// TestReplaceDropsSetID pins S7 for every user: new content published over
// a set-user-ID or set-group-ID file never carries those bits, by
// WriteFile or by CreateAtomic's Commit, unless AtomicFile.Chmod sets
// them; the other bits are kept.
func TestReplaceDropsSetID(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	for _, c := range []struct {
		name  string
		old   fs.FileMode
		write func(name string) error
		want  fs.FileMode
	}{
		{"setuid by WriteFile", fs.ModeSetuid | 0o755, func(n string) error { return d.WriteFile(n, []byte("new"), 0o600) }, 0o755},
		{"setgid by WriteFile", fs.ModeSetgid | 0o750, func(n string) error { return d.WriteFile(n, []byte("new"), 0o600) }, 0o750},
		{"both and sticky by Commit", fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky | 0o711, func(n string) error {
			f, err := d.CreateAtomic(n, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			f.WriteString("new")
			return f.Commit()
		}, fs.ModeSticky | 0o711},
		{"asked for by Chmod", 0o755, func(n string) error {
			f, err := d.CreateAtomic(n, 0o600)
			if err != nil {
				return err
			}
			defer f.Close()
			f.WriteString("new")
			if err := f.Chmod(fs.ModeSetuid | 0o755); err != nil {
				return err
			}
			return f.Commit()
		}, fs.ModeSetuid | 0o755},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(root, strings.ReplaceAll(c.name, " ", "-"))
			if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, c.old); err != nil {
				t.Fatal(err)
			}
			if err := c.write(filepath.Base(p)); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != c.want {
				t.Errorf("mode %v, want %v", fi.Mode(), c.want)
			}
		})
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
	var stages []string
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".racefree-") {
			stages = append(stages, e.Name())
		}
	}
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

// raceContent is a file content that says whether it was read whole: a
// length, the payload, and a checksum of both.
func raceContent(seed byte, size int) []byte {
	b := make([]byte, 8+size+4)
	binary.BigEndian.PutUint64(b, uint64(size))
	for i := range size {
		b[8+i] = seed + byte(i*7)
	}
	binary.BigEndian.PutUint32(b[8+size:], crc32.ChecksumIEEE(b[:8+size]))
	return b
}

// raceCheck returns nil if b is a whole raceContent.
func raceCheck(b []byte) error {
	if len(b) < 12 {
		return fmt.Errorf("%d bytes: shorter than a header", len(b))
	}
	size := binary.BigEndian.Uint64(b)
	if uint64(len(b)) != 8+size+4 {
		return fmt.Errorf("%d bytes, header says %d", len(b), 8+size+4)
	}
	if crc32.ChecksumIEEE(b[:8+size]) != binary.BigEndian.Uint32(b[8+size:]) {
		return errors.New("checksum mismatch")
	}
	return nil
}

// replaceRace replaces dir/f with write n times, alternating a large and a
// small content, while two readers read dir/f in a loop. It returns how
// many reads there were and the first bad one (missing, short, torn).
func replaceRace(t *testing.T, dir string, write func(data []byte) error, n int, stopAtBad bool) (reads int64, bad error) {
	t.Helper()
	contents := [][]byte{raceContent(1, 64<<10), raceContent(2, 1<<10)}
	if err := os.WriteFile(filepath.Join(dir, "f"), contents[1], 0o644); err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var nreads atomic.Int64
	var firstBad atomic.Pointer[error]
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				b, err := os.ReadFile(filepath.Join(dir, "f"))
				nreads.Add(1)
				if err == nil {
					err = raceCheck(b)
				}
				if err != nil {
					firstBad.CompareAndSwap(nil, &err)
				}
			}
		}()
	}
	for i := 0; i < n && !(stopAtBad && firstBad.Load() != nil); i++ {
		if err := write(contents[i%2]); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("write %d: %v", i, err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if p := firstBad.Load(); p != nil {
		bad = *p
	}
	return nreads.Load(), bad
}

// memTempDir is a temporary directory on /dev/shm where there is one: the
// race tests count replaces, and a tmpfs does thousands where a disk's
// fsyncs allow hundreds. Atomicity does not depend on the filesystem.
func memTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "racefree-test-")
	if err != nil {
		return t.TempDir()
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// TestWriteFileReadersNeverSeePartial is the G2 test for WriteFile: two
// readers reading the name in a loop never find it missing, empty or torn
// while it is replaced over and over. The same harness with the naive
// os.WriteFile (truncate, then write) must catch a bad read, or the
// harness proves nothing.
func TestWriteFileReadersNeverSeePartial(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 300
	}
	t.Run("naive", func(t *testing.T) {
		dir := memTempDir(t)
		reads, bad := replaceRace(t, dir, func(data []byte) error {
			return os.WriteFile(filepath.Join(dir, "f"), data, 0o644)
		}, 20*n, true)
		if bad == nil {
			t.Fatalf("inconclusive: the naive os.WriteFile was not caught in %d replaces (%d reads)", 20*n, reads)
		}
		t.Logf("naive caught: %v", bad)
	})
	t.Run("racefree", func(t *testing.T) {
		dir := memTempDir(t)
		d := openDir(t, dir)
		reads, bad := replaceRace(t, dir, func(data []byte) error {
			return d.WriteFile("f", data, 0o644)
		}, n, false)
		if bad != nil {
			t.Fatalf("a reader saw a bad file during %d replaces: %v", n, bad)
		}
		if left := stagingLeftovers(t, dir); len(left) != 0 {
			t.Errorf("staging leftovers: %v", left)
		}
		t.Logf("%d replaces, %d reads, all whole", n, reads)
	})
}

// The SIGKILL test starts the test binary itself as a writer that replaces
// a file in a loop, and kills it at random moments.
const (
	killWriterEnv = "RACEFREE_TEST_KILL_WRITER" // "racefree" or "naive"
	killDirEnv    = "RACEFREE_TEST_KILL_DIR"
)

// TestWriteFileKillWriter is the writer child of TestWriteFileSIGKILL; run
// directly, it skips.
func TestWriteFileKillWriter(t *testing.T) {
	how, dir := os.Getenv(killWriterEnv), os.Getenv(killDirEnv)
	if how == "" {
		t.Skip("the writer child of TestWriteFileSIGKILL")
	}
	write := func(data []byte) error { return os.WriteFile(filepath.Join(dir, "f"), data, 0o644) }
	if how == "racefree" {
		d := openDir(t, dir)
		write = func(data []byte) error { return d.WriteFile("f", data, 0o644) }
	}
	contents := [][]byte{raceContent(1, 64<<10), raceContent(2, 1<<10)}
	for i := 0; ; i++ {
		if err := write(contents[i%2]); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			fmt.Println("ready")
		}
	}
}

// TestWriteFileSIGKILL is the crash test of WriteFile (G2, G5): a writer
// killed with SIGKILL at a random moment leaves the file whole, old or new,
// and only staging leftovers that RemoveStale(0) removes. The writers take
// turns with the three capability profiles, so both the O_TMPFILE and the
// named route are killed. The same harness must catch a torn file with the
// naive os.WriteFile as the writer.
//
// It starts its own children, so it runs in the top-level test process only.
func TestWriteFileSIGKILL(t *testing.T) {
	if os.Getenv(childEnv) != "" || os.Getenv(killWriterEnv) != "" {
		t.Skip("runs in the top-level test process only; it re-executes the test binary under every profile itself")
	}
	kills := 200
	if testing.Short() {
		kills = 40
	}
	// killOnce starts a writer, kills it at a random moment after its
	// first complete write, and returns what it left under f.
	killOnce := func(t *testing.T, dir, how, disable string) error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFileKillWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), killWriterEnv+"="+how, killDirEnv+"="+dir,
			noReexecEnv+"=1", capability.EnvDisable+"="+disable)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		var seen []string
		for lines.Scan() && lines.Text() != "ready" {
			seen = append(seen, lines.Text())
		}
		time.Sleep(rand.N(3 * time.Millisecond))
		cmd.Process.Kill()
		io.Copy(io.Discard, out)
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("writer (%s, %s) ended by itself: %v\n%s%s", how, profileName(disable), err, strings.Join(seen, "\n"), stderr.String())
		}
		b, err := os.ReadFile(filepath.Join(dir, "f"))
		if err == nil {
			err = raceCheck(b)
		}
		return err
	}
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f"), raceContent(2, 1<<10), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}

	t.Run("naive", func(t *testing.T) {
		dir := setup(t)
		for i := range kills {
			if err := killOnce(t, dir, "naive", ""); err != nil {
				t.Logf("naive caught after %d kills: %v", i+1, err)
				return
			}
		}
		t.Fatalf("inconclusive: %d kills of the naive writer never left a torn file", kills)
	})
	t.Run("racefree", func(t *testing.T) {
		dir := setup(t)
		for i := range kills {
			disable := profiles[i%len(profiles)]
			if err := killOnce(t, dir, "racefree", disable); err != nil {
				t.Fatalf("kill %d (%s): the file is not whole: %v", i+1, profileName(disable), err)
			}
		}
		leftovers := len(stagingLeftovers(t, dir))
		d := openDir(t, dir)
		removed, err := d.RemoveStale(0)
		if err != nil {
			t.Fatalf("RemoveStale(0): %v", err)
		}
		if removed != leftovers {
			t.Errorf("RemoveStale(0) removed %d of %d leftovers", removed, leftovers)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != "f" {
			t.Errorf("after RemoveStale the directory holds %v, want only f", entries)
		}
		if leftovers == 0 {
			t.Fatalf("inconclusive: none of %d kills landed during a WriteFile (no staging leftovers)", kills)
		}
		t.Logf("%d kills: the file was whole every time; %d left a stage, all removed", kills, leftovers)
	})
}

// TestAtomicFileChmod: a mode set with AtomicFile.Chmod is the one Commit
// publishes, over an existing file's (which Commit otherwise keeps) and
// regardless of the umask.
func TestAtomicFileChmod(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := openDir(t, root)
	for _, name := range []string{"f", "new"} {
		f, err := d.CreateAtomic(name, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("secret"); err != nil {
			t.Fatal(err)
		}
		if err := f.Chmod(0o600 | fs.ModeSetgid); err != nil {
			t.Fatal(err)
		}
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode()&(fs.ModePerm|fs.ModeSetgid), 0o600|fs.ModeSetgid; got != want {
			t.Errorf("%s: mode %v after Chmod and Commit, want %v", name, got, want)
		}
	}
	if left := stagingLeftovers(t, root); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestCommitNoSync pins that the non-durable commit publishes like Commit
// (content, mode, nothing staged left behind) and has Commit's lifecycle.
func TestCommitNoSync(t *testing.T) {
	root := t.TempDir()
	buildTree(t, root, "file f old")
	d := openDir(t, root)
	for _, name := range []string{"f", "new"} {
		f, err := d.CreateAtomic(name, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("fresh " + name); err != nil {
			t.Fatal(err)
		}
		if err := f.CommitNoSync(); err != nil {
			t.Fatal(err)
		}
		if err := f.CommitNoSync(); err == nil {
			t.Errorf("%s: second CommitNoSync succeeded", name)
		}
		if err := f.Close(); err != nil {
			t.Errorf("%s: Close after CommitNoSync: %v", name, err)
		}
		if data, err := os.ReadFile(filepath.Join(root, name)); err != nil || string(data) != "fresh "+name {
			t.Errorf("%s = %q, %v", name, data, err)
		}
	}
	if left := stagingLeftovers(t, root); len(left) != 0 {
		t.Errorf("staging leftovers: %v", left)
	}
}
