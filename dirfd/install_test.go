//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/staging"
)

// treeFiles is how many files a test tree has; each holds the tree's
// version number, so a reader can tell two versions apart.
const treeFiles = 50

func treeFile(i int) string { return fmt.Sprintf("f%02d", i) }

// buildVersion returns a build function that writes version v into every
// file of the tree, plus a subdirectory with one more file.
func buildVersion(v int) func(*dirfd.Dir) error {
	return func(stage *dirfd.Dir) error {
		data := []byte(strconv.Itoa(v))
		for i := range treeFiles {
			if err := writeNew(stage, treeFile(i), data); err != nil {
				return err
			}
		}
		if err := stage.Mkdir("sub", 0o755); err != nil {
			return err
		}
		return writeNew(stage, "sub/g", data)
	}
}

// writeNew writes a file the way Install's documentation recommends inside
// build: Create and Close, no per-file flush.
func writeNew(d *dirfd.Dir, name string, data []byte) error {
	f, err := d.Create(name)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// wantLayout is the layout Install must choose in this process's profile:
// every filesystem the tests run on has RENAME_EXCHANGE.
func wantLayout() dirfd.Layout {
	if capability.Has(capability.RenameExchange) {
		return dirfd.LayoutDirect
	}
	return dirfd.LayoutVersioned
}

// checkVersion fails the test unless name holds a whole tree of version v.
func checkVersion(t *testing.T, d *dirfd.Dir, name string, v int) {
	t.Helper()
	sub, err := d.OpenDir(name)
	if err != nil {
		t.Fatalf("OpenDir(%s): %v", name, err)
	}
	defer sub.Close()
	got, err := treeVersion(sub)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if got != v {
		t.Fatalf("%s holds version %d, want %d", name, got, v)
	}
}

// treeVersion reads every file of a tree and returns its version, or an
// error if the tree is incomplete or mixed.
func treeVersion(tree *dirfd.Dir) (int, error) {
	seen := map[string]bool{}
	for i := range treeFiles {
		data, err := tree.ReadFile(treeFile(i))
		if err != nil {
			return 0, err
		}
		seen[string(data)] = true
	}
	data, err := tree.ReadFile("sub/g")
	if err != nil {
		return 0, err
	}
	seen[string(data)] = true
	if len(seen) != 1 {
		return 0, fmt.Errorf("mixed tree: versions %v", seen)
	}
	return strconv.Atoi(string(data))
}

func install(t *testing.T, d *dirfd.Dir, name string, v int, opts ...dirfd.InstallOption) dirfd.InstallResult {
	t.Helper()
	var res dirfd.InstallResult
	if err := d.Install(name, buildVersion(v), append(opts, dirfd.Result(&res))...); err != nil {
		t.Fatalf("Install(%s, version %d): %v", name, v, err)
	}
	return res
}

// readerStats is what the readers of a tree saw.
type readerStats struct {
	whole   atomic.Int64 // pinned trees read whole, all files of one version
	mixed   atomic.Int64 // pinned trees with two versions, or a torn file
	retired atomic.Int64 // pinned trees removed (the replaced tree) while being read
	missing atomic.Int64 // the name did not resolve to a tree at all
	example atomic.Value // one description of a mixed or missing tree
}

// readers pin the tree under name with OpenDir and read all its files, in
// n goroutines, until stop is closed.
func readers(d *dirfd.Dir, name string, n int, stop <-chan struct{}) (*readerStats, *sync.WaitGroup) {
	st := &readerStats{}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				tree, err := d.OpenDir(name)
				if err != nil {
					st.missing.Add(1)
					st.example.CompareAndSwap(nil, fmt.Sprintf("OpenDir: %v", err))
					continue
				}
				seen := map[string]bool{}
				retired := false
				for i := range treeFiles {
					data, err := tree.ReadFile(treeFile(i))
					if errors.Is(err, fs.ErrNotExist) {
						retired = true
						break
					}
					if err != nil || len(data) == 0 {
						seen["torn"] = true
						continue
					}
					seen[string(data)] = true
				}
				tree.Close()
				switch {
				case len(seen) > 1:
					st.mixed.Add(1)
					st.example.CompareAndSwap(nil, fmt.Sprintf("one pinned tree held %v", seen))
				case retired:
					st.retired.Add(1)
				default:
					st.whole.Add(1)
				}
			}
		}()
	}
	return st, &wg
}

var errBuild = errors.New("build refused")

// TestInstallFailureLeavesEverythingAsItWas: a build or verify failure, or
// a panic in build, leaves the old tree byte for byte and nothing else
// behind, even when the abandoned tree has read-only directories in it.
func TestInstallFailureLeavesEverythingAsItWas(t *testing.T) {
	failingBuild := func(stage *dirfd.Dir) error {
		if err := buildVersion(2)(stage); err != nil {
			return err
		}
		// A read-only directory with a file in it: removing the abandoned
		// tree needs write permission on it, which an unprivileged owner
		// must give itself first.
		if err := stage.Mkdir("ro", 0o755); err != nil {
			return err
		}
		if err := writeNew(stage, "ro/f", []byte("x")); err != nil {
			return err
		}
		if err := stage.Chmod("ro", 0o555); err != nil {
			return err
		}
		return errBuild
	}
	cases := []struct {
		name  string
		build func(*dirfd.Dir) error
		opts  []dirfd.InstallOption
		want  error
		panic bool
	}{
		{name: "build fails", build: failingBuild, want: errBuild},
		{name: "build fails with Mode", build: failingBuild, opts: []dirfd.InstallOption{dirfd.Mode(0o555)}, want: errBuild},
		{
			name:  "verify fails",
			build: buildVersion(2),
			opts: []dirfd.InstallOption{
				dirfd.Mode(0o700),
				dirfd.Verify(func(stage *dirfd.Dir) error {
					// Verify sees the finished tree, mode included.
					if v, err := treeVersion(stage); err != nil || v != 2 {
						return fmt.Errorf("verify saw version %d, %v", v, err)
					}
					if fi, err := stage.Stat("."); err != nil || fi.Mode().Perm() != 0o700 {
						return fmt.Errorf("verify saw mode %v, %v", fi.Mode(), err)
					}
					return errBuild
				}),
			},
			want: errBuild,
		},
		{name: "build panics", build: func(stage *dirfd.Dir) error {
			if err := buildVersion(2)(stage); err != nil {
				return err
			}
			panic(errBuild)
		}, panic: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			d := openDir(t, root)
			install(t, d, "tree", 1, dirfd.Mode(0o750))
			before := snapshot(t, root)
			func() {
				defer func() {
					if r := recover(); r != nil && !tc.panic {
						panic(r)
					}
				}()
				err := d.Install("tree", tc.build, tc.opts...)
				if !errors.Is(err, tc.want) {
					t.Errorf("Install: %v, want %v", err, tc.want)
				}
			}()
			if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
				t.Errorf("the failed Install changed the directory (-before +after):\n%s", diff)
			}
			checkVersion(t, d, "tree", 1)
		})
	}
}

// TestInstallNewName: a new name is published with the layout of the
// profile, and a second Install replaces it.
func TestInstallNewName(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root)
	if err := os.Mkdir(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	res := install(t, d, "sub/site/", 1)
	if res.Layout != wantLayout() || res.Replaced {
		t.Errorf("first Install: %+v, want layout %v, not replaced", res, wantLayout())
	}
	fi, err := os.Lstat(filepath.Join(root, "sub/site"))
	if err != nil {
		t.Fatal(err)
	}
	if wantDir := res.Layout == dirfd.LayoutDirect; fi.IsDir() != wantDir {
		t.Errorf("sub/site has mode %v in layout %v", fi.Mode(), res.Layout)
	}
	checkVersion(t, d, "sub/site", 1)
	if res := install(t, d, "sub/site", 2); !res.Replaced {
		t.Errorf("second Install: %+v, want replaced", res)
	}
	checkVersion(t, d, "sub/site", 2)
	if l := stagingLeftovers(t, filepath.Join(root, "sub")); len(l) != 0 {
		t.Errorf("leftovers: %v", l)
	}
}

// TestInstallMode: Mode sets the top directory's mode exactly, after build
// (a read-only mode does not stop build), and a read-only old tree is
// still removed when it is replaced. Without Mode the directory gets 0755
// less the umask, as Mkdir.
func TestInstallMode(t *testing.T) {
	root := readOnlyTempDir(t)
	d := openDir(t, root)
	if err := os.Mkdir(filepath.Join(root, "mkdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	mkdirMode := lstatMode(t, filepath.Join(root, "mkdir"))
	for i, mode := range []fs.FileMode{0o555, 0o750, fs.ModeSetgid | 0o770} {
		install(t, d, "tree", i, dirfd.Mode(mode))
		fi, err := d.Stat("tree")
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ fs.ModeDir; got != mode {
			t.Errorf("Mode(%v): top directory has %v", mode, got)
		}
		checkVersion(t, d, "tree", i)
	}
	install(t, d, "tree", 9)
	fi, err := d.Stat("tree")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != mkdirMode.Perm() {
		t.Errorf("without Mode: %v, want %v as Mkdir(0755) gives", fi.Mode(), mkdirMode)
	}
	if l := stagingLeftovers(t, root); len(l) != 0 {
		t.Errorf("leftovers (the read-only old tree was not removed?): %v", l)
	}
}

// readOnlyTempDir is t.TempDir for tests that install read-only trees:
// replaced versions stay for a while in the versioned layout, and kept
// trees stay, which t.TempDir's clean-up could not remove unprivileged.
func readOnlyTempDir(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Cleanup(func() {
		filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				os.Chmod(path, 0o700)
			}
			return nil
		})
	})
	return root
}

func lstatMode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode()
}

// TestInstallKeepPreviousAndRollBack: KeepPrevious keeps the replaced tree
// under another name, mode and all, replacing what was there, and rolling
// back is one more atomic step. The trees are read-only, which an
// unprivileged owner cannot move between directories as they are.
func TestInstallKeepPreviousAndRollBack(t *testing.T) {
	root := readOnlyTempDir(t)
	d := openDir(t, root)
	modes := []fs.FileMode{0, 0o555, 0o500, 0o751}
	installKeep := func(v int) dirfd.InstallResult {
		t.Helper()
		return install(t, d, "site", v, dirfd.KeepPrevious("site.prev"), dirfd.Mode(modes[v]))
	}
	checkMode := func(name string, v int) {
		t.Helper()
		fi, err := d.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != modes[v] {
			t.Errorf("%s has mode %v, want %v", name, got, modes[v])
		}
	}
	installKeep(1)
	if _, err := os.Lstat(filepath.Join(root, "site.prev")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("nothing to keep on a new name, yet site.prev: %v", err)
	}
	installKeep(2)
	checkVersion(t, d, "site.prev", 1)
	checkMode("site.prev", 1)
	res := installKeep(3)
	checkVersion(t, d, "site", 3)
	checkMode("site", 3)
	checkVersion(t, d, "site.prev", 2)
	checkMode("site.prev", 2)

	switch res.Layout {
	case dirfd.LayoutDirect:
		if err := d.Exchange("site", "site.prev"); err != nil {
			t.Fatal(err)
		}
		checkVersion(t, d, "site.prev", 3)
	case dirfd.LayoutVersioned:
		if err := d.Rename("site.prev", "site"); err != nil {
			t.Fatal(err)
		}
	}
	checkVersion(t, d, "site", 2)
	checkMode("site", 2)
	if l := stagingLeftovers(t, root); len(l) != 0 {
		t.Errorf("leftovers: %v", l)
	}
}

// TestInstallConcurrentInstallers: Installs of one name from several
// goroutines at once, starting from a new name, all succeed, and readers
// meanwhile see whole trees only.
func TestInstallConcurrentInstallers(t *testing.T) {
	perInstaller := 20
	if testing.Short() {
		perInstaller = 5
	}
	root := memTempDir(t)
	d := openDir(t, root)
	stop := make(chan struct{})
	st, readersDone := readers(d, "tree", 2, stop)
	var wg sync.WaitGroup
	errs := make(chan error, 3*perInstaller)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perInstaller {
				if err := d.Install("tree", buildVersion(100*i+j)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readersDone.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Install: %v", err)
	}
	// Missing trees are expected until the first Install has published.
	if st.mixed.Load() != 0 {
		t.Errorf("readers saw %d mixed trees, e.g. %v", st.mixed.Load(), st.example.Load())
	}
	sub, err := d.OpenDir("tree")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if _, err := treeVersion(sub); err != nil {
		t.Errorf("after the installs: %v", err)
	}
	if l := stagingLeftovers(t, root); len(l) != 0 {
		t.Errorf("leftovers: %v", l)
	}
}

// TestInstallRefusesWhatItCannotReplace: a name holding something other
// than a tree Install made, or a KeepPrevious name elsewhere, is refused
// before build runs, and nothing changes.
func TestInstallRefusesWhatItCannotReplace(t *testing.T) {
	cases := []struct {
		name string
		opts []dirfd.InstallOption
		want error
	}{
		{name: "file", want: syscall.ENOTDIR},
		{name: "link-to-dir", want: syscall.ENOTDIR},
		{name: "link-like-ours", want: syscall.ENOTDIR},
		{name: "fifo", want: syscall.ENOTDIR},
		{name: "dir", opts: []dirfd.InstallOption{dirfd.KeepPrevious("sub/prev")}, want: syscall.EINVAL},
		{name: "dir", opts: []dirfd.InstallOption{dirfd.KeepPrevious("dir")}, want: syscall.EINVAL},
		{name: "dir/..", want: syscall.EINVAL},
		{name: "..", want: dirfd.ErrEscape},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			buildTree(t, root, `
				file file contents
				dir dir
				file dir/f old
				dir sub
				symlink link-to-dir dir
				symlink link-like-ours link-like-ours.versions/0123456789abcdeg
			`)
			if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
				t.Fatal(err)
			}
			d := openDir(t, root)
			before := snapshot(t, root)
			built := false
			err := d.Install(tc.name, func(*dirfd.Dir) error { built = true; return nil }, tc.opts...)
			if !errors.Is(err, tc.want) {
				t.Errorf("Install(%s): %v, want %v", tc.name, err, tc.want)
			}
			if built {
				t.Errorf("build ran")
			}
			if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
				t.Errorf("the refused Install changed the directory (-before +after):\n%s", diff)
			}
		})
	}
}

// TestInstallStageIsContained: the Dir build gets is Beneath the staged
// tree, whatever the installing Dir's mode.
func TestInstallStageIsContained(t *testing.T) {
	root := t.TempDir()
	d := openDir(t, root, dirfd.InRoot())
	err := d.Install("tree", func(stage *dirfd.Dir) error {
		if !strings.Contains(stage.Name(), staging.Prefix) {
			t.Errorf("stage.Name() = %q, want the staging directory in it", stage.Name())
		}
		if err := stage.Symlink("/", "abs"); err != nil {
			return err
		}
		if err := stage.Symlink("../..", "up"); err != nil {
			return err
		}
		for _, name := range []string{"..", "../x", "abs/x", "up/x", "/x"} {
			if _, err := stage.Create(name); !errors.Is(err, dirfd.ErrEscape) {
				t.Errorf("stage.Create(%q): %v, want ErrEscape", name, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestInstallVersionedLayout runs with RACEFREE_DISABLE including
// rename_exchange (re-executing the test binary so if needed): the tree
// goes to NAME.versions/ID and NAME is a symlink to it, the replaced
// version is kept until the next Install, orphans are pruned, a directory
// under the name is refused, and so is the layout itself by a Strict Dir.
func TestInstallVersionedLayout(t *testing.T) {
	if !runWithout(t, capability.RenameExchange) {
		return
	}
	root := t.TempDir()
	d := openDir(t, root)
	versions := filepath.Join(root, "site"+dirfd.VersionsSuffix)
	checkLink := func(res dirfd.InstallResult) {
		t.Helper()
		if res.Layout != dirfd.LayoutVersioned || res.Version == "" {
			t.Fatalf("result %+v, want LayoutVersioned with a version", res)
		}
		target, err := os.Readlink(filepath.Join(root, "site"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "site" + dirfd.VersionsSuffix + "/" + res.Version; target != want {
			t.Fatalf("site -> %q, want %q", target, want)
		}
	}
	checkVersions := func(want ...string) {
		t.Helper()
		want = append(want, ".racefree-lock")
		slices.Sort(want)
		if diff := cmp.Diff(want, entryNames(t, versions)); diff != "" {
			t.Errorf("site.versions (-want +got):\n%s", diff)
		}
	}

	r1 := install(t, d, "site", 1)
	checkLink(r1)
	checkVersion(t, d, "site", 1)
	if r1.Replaced {
		t.Errorf("new name reported replaced")
	}
	if fi, err := os.Lstat(versions); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("site.versions: %v, %v: want mode 0711, whatever the umask (S5)", fi.Mode(), err)
	}
	checkVersions(r1.Version)

	// A crash between moving a tree in and replacing the symlink leaves an
	// orphan version, never retired: the next Install prunes it at once,
	// and keeps the version it replaces, retired now.
	orphan := filepath.Join(versions, "0123456789abcdef")
	if err := os.MkdirAll(filepath.Join(orphan, "a"), 0o755); err != nil {
		t.Fatal(err)
	}
	r2 := install(t, d, "site", 2)
	checkLink(r2)
	checkVersion(t, d, "site", 2)
	checkVersions(r1.Version, r1.Version+".retired", r2.Version)

	// Once retired for long enough, a version goes.
	long := time.Now().Add(-time.Minute)
	if err := os.Chtimes(filepath.Join(versions, r1.Version+".retired"), long, long); err != nil {
		t.Fatal(err)
	}
	r3 := install(t, d, "site", 3, dirfd.KeepPrevious("site.prev"))
	checkLink(r3)
	checkVersions(r2.Version, r2.Version+".retired", r3.Version)
	checkVersion(t, d, "site.prev", 2)

	// Roll back: the version rolled back from has no retirement record.
	if err := d.Rename("site.prev", "site"); err != nil {
		t.Fatal(err)
	}
	checkVersion(t, d, "site", 2)
	r4 := install(t, d, "site", 4)
	checkVersions(r2.Version, r2.Version+".retired", r4.Version)

	before := snapshot(t, root)
	strict := openDir(t, root, dirfd.Strict())
	if err := strict.Install("site", buildVersion(5)); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Strict Install over a versioned name: %v, want ErrUnsupported", err)
	}
	if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
		t.Errorf("the refused Install changed the directory (-before +after):\n%s", diff)
	}

	// A new name in Strict mode is a plain directory, published by rename;
	// without the exchange nothing can replace it afterwards, in Strict
	// mode or not.
	var res dirfd.InstallResult
	if err := strict.Install("plain", buildVersion(1), dirfd.Result(&res)); err != nil {
		t.Fatal(err)
	}
	if res.Layout != dirfd.LayoutDirect || lstatMode(t, filepath.Join(root, "plain"))&fs.ModeDir == 0 {
		t.Errorf("Strict Install of a new name: %+v", res)
	}
	before = snapshot(t, root)
	for _, dd := range []*dirfd.Dir{d, strict} {
		if err := dd.Install("plain", buildVersion(2)); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Install over a directory without the exchange: %v, want ErrUnsupported", err)
		}
	}
	if diff := cmp.Diff(before, snapshot(t, root)); diff != "" {
		t.Errorf("the refused Install changed the directory (-before +after):\n%s", diff)
	}
	if l := stagingLeftovers(t, root); len(l) != 0 {
		t.Errorf("leftovers: %v", l)
	}
}

// TestInstallTurnsVersionedIntoDirect: on a filesystem with the exchange,
// a name left in the versioned layout (by a run without it) becomes a
// directory in one exchange. The version it pointed to is retired like any
// replaced version, a version never retired goes at once, and later
// Installs prune the rest and NAME.versions itself.
func TestInstallTurnsVersionedIntoDirect(t *testing.T) {
	if !capability.Has(capability.RenameExchange) {
		t.Skip("needs rename_exchange, disabled in this profile")
	}
	for _, keep := range []bool{false, true} {
		t.Run(fmt.Sprintf("keep=%v", keep), func(t *testing.T) {
			root := t.TempDir()
			id := "0123456789abcdef"
			buildTree(t, root, `
				dir site.versions
				dir site.versions/`+id+`
				file site.versions/`+id+`/f old
				dir site.versions/fedcba9876543210
				symlink site site.versions/`+id+`
			`)
			markVersions(t, root, "site")
			d := openDir(t, root)
			var opts []dirfd.InstallOption
			if keep {
				opts = append(opts, dirfd.KeepPrevious("prev"))
			}
			res := install(t, d, "site", 1, opts...)
			if res.Layout != dirfd.LayoutDirect || !res.Replaced {
				t.Errorf("result %+v, want LayoutDirect, replaced", res)
			}
			if lstatMode(t, filepath.Join(root, "site"))&fs.ModeDir == 0 {
				t.Errorf("site is not a directory")
			}
			checkVersion(t, d, "site", 1)
			versions := filepath.Join(root, "site.versions")
			want := []string{".racefree-lock", id, id + ".retired"}
			if diff := cmp.Diff(want, entryNames(t, versions)); diff != "" {
				t.Errorf("site.versions (-want +got):\n%s", diff)
			}
			if target, err := os.Readlink(filepath.Join(root, "prev")); keep && target != "site.versions/"+id || !keep && err == nil {
				t.Errorf("prev -> %q, %v", target, err)
			}

			long := time.Now().Add(-time.Minute)
			if err := os.Chtimes(filepath.Join(versions, id+".retired"), long, long); err != nil {
				t.Fatal(err)
			}
			install(t, d, "site", 2, opts...)
			checkVersion(t, d, "site", 2)
			if _, err := os.Lstat(versions); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("site.versions after the next Install: %v, want it gone", err)
			}
			if keep {
				checkVersion(t, d, "prev", 1)
			}
		})
	}
}

// markVersions makes root/NAME.versions, built by hand, what Install makes:
// mode 0711 and a lock file of ours holding the name (DESIGN.md S5).
func markVersions(t *testing.T, root, name string) {
	t.Helper()
	versions := filepath.Join(root, name+dirfd.VersionsSuffix)
	if err := os.WriteFile(filepath.Join(versions, ".racefree-lock"), []byte(name+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(versions, 0o711); err != nil {
		t.Fatal(err)
	}
}

// entryNames returns the names in dir, sorted.
func entryNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// runWithout reports whether the calling test should run its body in this
// process: it does when feature f is already off here. Otherwise it runs
// the test in a re-executed test binary with f added to RACEFREE_DISABLE,
// fails if that run fails or does not run it, and returns false.
func runWithout(t *testing.T, f capability.Feature) bool {
	t.Helper()
	if !capability.Has(f) {
		return true
	}
	disable := string(f)
	if p := profile(); p != "" {
		disable = p + "," + disable
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	if testing.Short() {
		cmd.Args = append(cmd.Args, "-test.short")
	}
	cmd.Env = append(os.Environ(), capability.EnvDisable+"="+disable, noReexecEnv+"=1", childEnv+"=install "+disable)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s with %s=%s: %v\n%s", t.Name(), capability.EnvDisable, disable, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s with %s=%s did not run:\n%s", t.Name(), capability.EnvDisable, disable, out)
	}
	t.Logf("ran with %s=%s", capability.EnvDisable, disable)
	return false
}
