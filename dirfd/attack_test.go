//go:build linux

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// The symlink-exchange attack (CVE-2018-15664, "docker cp"): the victim
// works on root/inside/...; the attacker atomically swaps the directory
// root/inside with a symlink root/link pointing outside the root, as fast
// as it can, so that at any instant "inside" may be the symlink. A
// path-based victim follows it and writes outside; a Dir must not.

// atkFixture is the tree of one attack run.
type atkFixture struct {
	root, outside string
	sentinel      fzInode // outside/f: a victim that opens it has escaped
}

// atkSetup creates tmp/root/inside (with secret-inside and f),
// tmp/root/link -> outside (absolute, or "../outside"), and tmp/outside
// with sentinels f and secret-outside.
func atkSetup(t *testing.T, absLink bool) *atkFixture {
	t.Helper()
	tmp := t.TempDir()
	fx := &atkFixture{root: filepath.Join(tmp, "root"), outside: filepath.Join(tmp, "outside")}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(fx.root, "inside"), 0o755))
	must(os.Mkdir(fx.outside, 0o755))
	must(os.WriteFile(filepath.Join(fx.root, "inside", "secret-inside"), []byte("inside"), 0o644))
	must(os.WriteFile(filepath.Join(fx.root, "inside", "f"), []byte("inside f"), 0o644))
	must(os.WriteFile(filepath.Join(fx.outside, "f"), []byte("outside sentinel"), 0o644))
	must(os.WriteFile(filepath.Join(fx.outside, "secret-outside"), []byte("outside secret"), 0o644))
	target := "../outside"
	if absLink {
		target = fx.outside
	}
	must(os.Symlink(target, filepath.Join(fx.root, "link")))
	fi, err := os.Lstat(filepath.Join(fx.outside, "f"))
	must(err)
	fx.sentinel = fzInodeOf(fi)
	return fx
}

// atkAttacker swaps root/inside and root/link until stopped.
type atkAttacker struct {
	stop  atomic.Bool
	swaps atomic.Int64
	fails atomic.Int64
	done  chan struct{}
}

func atkStartAttacker(root string) *atkAttacker {
	a := &atkAttacker{done: make(chan struct{})}
	in, link := filepath.Join(root, "inside"), filepath.Join(root, "link")
	go func() {
		defer close(a.done)
		for !a.stop.Load() {
			if err := unix.Renameat2(unix.AT_FDCWD, in, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE); err != nil {
				a.fails.Add(1)
				continue
			}
			a.swaps.Add(1)
		}
	}()
	return a
}

// halt stops the attacker and waits for it, so nothing moves while the
// outcome is judged.
func (a *atkAttacker) halt() {
	a.stop.Store(true)
	<-a.done
}

// atkVictim is one way of doing the victim's work: every call names
// something below root/inside.
type atkVictim struct {
	openF func() (*os.File, error) // "inside/f", O_WRONLY|O_CREATE
	openG func() (*os.File, error) // "inside/g", O_WRONLY|O_CREATE (absent outside)
	stat  func() (fs.FileInfo, error)
	mkdir func() error // "inside/newdir"
	clean func()       // remove newdir wherever it is inside the root
}

type atkResult struct {
	ops, ok, escapes int64
	byOp             [4]int64
	errs             map[string]int
	elapsed          time.Duration
	swaps            int64
}

// atkRun runs the victim against the attacker for budget (or until the
// victim has escaped 100 times: more proves nothing more) and counts
// escapes: the sentinel outside/f opened or stat'ed, outside/g created,
// outside/newdir created, and, after the attacker has stopped, any change
// to the contents of outside/.
func atkRun(t *testing.T, fx *atkFixture, v atkVictim, budget time.Duration) atkResult {
	t.Helper()
	var res atkResult
	res.errs = map[string]int{}
	outG := filepath.Join(fx.outside, "g")
	outNew := filepath.Join(fx.outside, "newdir")
	escaped := func(op int) {
		res.escapes++
		res.byOp[op]++
	}
	checkFile := func(op int, f *os.File, err error) {
		if err != nil {
			res.errs[atkErrClass(err)]++
			return
		}
		res.ok++
		fi, serr := f.Stat()
		f.Close()
		if serr != nil {
			t.Errorf("fstat: %v", serr)
			return
		}
		if fzInodeOf(fi) == fx.sentinel {
			escaped(op)
		}
	}

	a := atkStartAttacker(fx.root)
	start := time.Now()
	for res.escapes < 100 {
		if res.ops%64 == 0 && time.Since(start) >= budget {
			break
		}
		op := int(res.ops % 4)
		res.ops++
		switch op {
		case 0:
			f, err := v.openF()
			checkFile(op, f, err)
		case 1:
			f, err := v.openG()
			checkFile(op, f, err)
			if _, err := os.Lstat(outG); err == nil {
				escaped(op)
				os.Remove(outG)
			}
		case 2:
			fi, err := v.stat()
			if err != nil {
				res.errs[atkErrClass(err)]++
				break
			}
			res.ok++
			if fzInodeOf(fi) == fx.sentinel {
				escaped(op)
			}
		case 3:
			if err := v.mkdir(); err != nil {
				res.errs[atkErrClass(err)]++
			} else {
				res.ok++
			}
			if _, err := os.Lstat(outNew); err == nil {
				escaped(op)
				os.Remove(outNew)
			}
			v.clean()
		}
	}
	res.elapsed = time.Since(start)
	a.halt()
	res.swaps = a.swaps.Load()

	// Judge outside/ with nothing moving.
	ents, err := os.ReadDir(fx.outside)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, ","); got != "f,secret-outside" {
		t.Logf("outside/ now holds %s", got)
		res.escapes++
	}
	if data, err := os.ReadFile(filepath.Join(fx.outside, "f")); err != nil || string(data) != "outside sentinel" {
		t.Logf("outside/f changed: %q, %v", data, err)
		res.escapes++
	}
	return res
}

func atkErrClass(err error) string {
	switch {
	case errors.Is(err, dirfd.ErrEscape):
		return "escape"
	case errors.Is(err, syscall.ENOENT):
		return "ENOENT"
	case errors.Is(err, syscall.EAGAIN):
		return "EAGAIN"
	case errors.Is(err, syscall.EEXIST):
		return "EEXIST"
	case errors.Is(err, syscall.ENOTDIR):
		return "ENOTDIR"
	case errors.Is(err, syscall.ELOOP):
		return "ELOOP"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}

func atkNaiveVictim(root string) atkVictim {
	p := func(name string) string { return filepath.Join(root, name) }
	return atkVictim{
		openF: func() (*os.File, error) { return os.OpenFile(p("inside/f"), os.O_WRONLY|os.O_CREATE, 0o644) },
		openG: func() (*os.File, error) { return os.OpenFile(p("inside/g"), os.O_WRONLY|os.O_CREATE, 0o644) },
		stat:  func() (fs.FileInfo, error) { return os.Stat(p("inside/f")) },
		mkdir: func() error { return os.Mkdir(p("inside/newdir"), 0o755) },
		clean: func() {
			os.Remove(p("inside/newdir"))
			os.Remove(p("link/newdir"))
		},
	}
}

func atkDirVictim(d *dirfd.Dir) atkVictim {
	return atkVictim{
		openF: func() (*os.File, error) { return d.OpenFile("inside/f", os.O_WRONLY|os.O_CREATE, 0o644) },
		openG: func() (*os.File, error) { return d.OpenFile("inside/g", os.O_WRONLY|os.O_CREATE, 0o644) },
		stat:  func() (fs.FileInfo, error) { return d.Stat("inside/f") },
		mkdir: func() error { return d.Mkdir("inside/newdir", 0o755) },
		clean: func() {
			d.Remove("inside/newdir")
			d.Remove("link/newdir")
		},
	}
}

func atkBudget() time.Duration {
	if testing.Short() {
		return 300 * time.Millisecond
	}
	return 2 * time.Second
}

func (r atkResult) String() string {
	return fmt.Sprintf("%d victim ops (%d succeeded) in %v, %d escapes (openF %d, openG %d, stat %d, mkdir %d), attacker %d swaps (%.0f/s), errors %v",
		r.ops, r.ok, r.elapsed.Round(time.Millisecond), r.escapes, r.byOp[0], r.byOp[1], r.byOp[2], r.byOp[3],
		r.swaps, float64(r.swaps)/r.elapsed.Seconds(), r.errs)
}

// TestAttackSymlinkExchange replays the symlink-exchange attack against a
// naive path-based victim, which must be caught escaping (else the harness
// is blind and the test fails as inconclusive), and against Dirs in
// Beneath and InRoot mode with relative and absolute links, which must
// never escape.
func TestAttackSymlinkExchange(t *testing.T) {
	budget := atkBudget()

	t.Run("naive", func(t *testing.T) {
		fx := atkSetup(t, false)
		res := atkRun(t, fx, atkNaiveVictim(fx.root), budget)
		t.Logf("naive: %v", res)
		if res.swaps == 0 {
			t.Fatalf("inconclusive: the attacker never swapped")
		}
		if res.escapes == 0 {
			t.Fatalf("inconclusive: the naive victim never escaped in %v (%v): the harness cannot see an escape", budget, res)
		}
	})

	for _, tc := range []struct {
		name    string
		absLink bool
		opts    []dirfd.Option
	}{
		{"Beneath/relative-link", false, nil},
		{"Beneath/absolute-link", true, nil},
		{"InRoot/absolute-link", true, []dirfd.Option{dirfd.InRoot()}},
		{"InRoot/relative-link", false, []dirfd.Option{dirfd.InRoot()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fx := atkSetup(t, tc.absLink)
			d, err := dirfd.Open(fx.root, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			b := budget
			if !tc.absLink || len(tc.opts) > 0 {
				b = budget / 2 // the main case gets the full budget
			}
			res := atkRun(t, fx, atkDirVictim(d), b)
			t.Logf("racefree %s: %v", tc.name, res)
			if res.swaps == 0 {
				t.Fatalf("inconclusive: the attacker never swapped")
			}
			if res.ok == 0 {
				t.Fatalf("inconclusive: no victim operation succeeded (%v)", res)
			}
			if res.escapes != 0 {
				t.Errorf("racefree escaped %d times: %v", res.escapes, res)
			}
		})
	}
}

// G4: no descriptor the library creates is ever inherited by a child.

// atkListFds starts /bin/ls /proc/self/fd and returns the descriptors the
// child had (ls's own directory descriptor included).
func atkListFds() ([]string, error) {
	out, err := exec.Command("/bin/ls", "/proc/self/fd").Output()
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(out)), nil
}

// atkLeakCheck runs workload in a loop on another goroutine while starting
// n children, and returns how many children had more descriptors than a
// child started before the workload (0, 1, 2 and the one ls opens itself).
func atkLeakCheck(t *testing.T, n int, workload func()) (leaky int, example []string) {
	t.Helper()
	base, err := atkListFds()
	if err != nil {
		t.Fatal(err)
	}
	if len(base) != 4 {
		t.Logf("baseline child descriptors: %v", base)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var rounds atomic.Int64
	wg.Go(func() {
		for !stop.Load() {
			workload()
			rounds.Add(1)
		}
	})
	for range n {
		fds, err := atkListFds()
		if err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatal(err)
		}
		if len(fds) > len(base) {
			leaky++
			example = fds
		}
	}
	stop.Store(true)
	wg.Wait()
	if rounds.Load() == 0 {
		t.Fatalf("inconclusive: the workload never completed a round")
	}
	t.Logf("%d children, %d workload rounds, %d children saw extra descriptors %v (baseline %v)", n, rounds.Load(), leaky, example, base)
	return leaky, example
}

func TestDescriptorLeak(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 100
	}
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "file"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("dir", filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}

	t.Run("naive", func(t *testing.T) {
		path := filepath.Join(root, "file")
		leaky, _ := atkLeakCheck(t, n, func() {
			fd, err := syscall.Open(path, syscall.O_RDONLY, 0) // no O_CLOEXEC
			if err != nil {
				return
			}
			var st syscall.Stat_t
			syscall.Fstat(fd, &st)
			buf := make([]byte, 16)
			syscall.Read(fd, buf)
			syscall.Close(fd)
		})
		if leaky == 0 {
			t.Fatalf("inconclusive: a descriptor opened without O_CLOEXEC was never seen in any of %d children", n)
		}
	})

	t.Run("racefree", func(t *testing.T) {
		d, err := dirfd.Open(root)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		fsys := d.FS()
		leaky, fds := atkLeakCheck(t, n, func() {
			if f, err := d.OpenFile("link/new", os.O_RDWR|os.O_CREATE, 0o644); err == nil {
				f.Close()
			}
			if f, err := d.Open("file"); err == nil {
				f.Close()
			}
			d.Stat("link/new")
			d.Lstat("link")
			if h, err := d.OpenHandle("link"); err == nil {
				if f, err := h.Reopen(os.O_RDONLY); err == nil {
					f.Close()
				}
				h.Close()
			}
			if h, err := d.OpenHandle("file"); err == nil {
				h.Chmod(0o644)
				h.Close()
			}
			d.ReadDir("dir")
			d.ReadFile("file")
			d.Mkdir("dir/sub", 0o755)
			d.MkdirAll("dir/a/b/c", 0o755)
			d.RemoveAll("dir/a")
			d.Remove("dir/sub")
			d.Symlink("../file", "dir/sl")
			d.Readlink("dir/sl")
			d.Rename("dir/sl", "dir/sl2")
			d.Remove("dir/sl2")
			d.Chmod("link/new", 0o600)
			d.Chtimes("file", time.Time{}, time.Now())
			d.WriteFile("dir/w", []byte("w"), 0o644)
			d.Remove("link/new")
			if sub, err := d.OpenDir("dir"); err == nil {
				sub.Stat("w")
				sub.Close()
			}
			fs.ReadFile(fsys, "file")
			fs.ReadDir(fsys, "dir")
			d.Stat("../escape")
		})
		if leaky != 0 {
			t.Errorf("%d of %d children inherited descriptors from racefree: e.g. %v", leaky, n, fds)
		}
	})
}
