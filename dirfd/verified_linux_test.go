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

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/fallback"
	"github.com/racefree/racefree/opath"
)

// The swap attack on verified mutation (G3). A victim repeatedly creates an
// object, opens a handle on it, puts it under the name "name", and then
// removes (or renames) "name" only if it is still that object. An attacker
// that can write the directory keeps swapping "name" with objects of its
// own (RENAME_EXCHANGE with its slots atk-0..atk-7) and, whenever "name"
// is free, fills it with a fresh object of its own (RENAME_NOREPLACE).
//
// Invariants, checked as the victim goes and once more with the attacker
// stopped:
//   - a removal that reports success removed the victim's own object (the
//     handle's object has no link left) and nothing else;
//   - a rename that reports success moved the victim's own object;
//   - every attacker object still exists, somewhere in the directory (under
//     the name, in a slot, beside the victim's objects, or under a conflict
//     name), and none was moved to a victim's destination;
//   - every victim object that was not removed still exists.
//
// The same harness runs a naive victim (fstatat, compare, then unlinkat or
// renameat by name), which must be caught; otherwise the harness is blind
// and the test fails as inconclusive.

const (
	vfName  = "name"
	vfSlots = 8
)

// vfObjects records objects by inode with a label ("attacker-N", "victim-N").
type vfObjects struct {
	mu    sync.Mutex
	byIno map[[2]uint64]string
}

func (o *vfObjects) add(ino [2]uint64, label string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.byIno[ino] = label
}

// vfMake creates name in dirfd as kind ("file" holding label, or an empty
// "dir") and returns its inode.
func vfMake(dirfd int, name, kind, label string) ([2]uint64, error) {
	if kind == "dir" {
		if err := unix.Mkdirat(dirfd, name, 0o755); err != nil {
			return [2]uint64{}, err
		}
	} else {
		fd, err := unix.Openat(dirfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return [2]uint64{}, err
		}
		_, err = unix.Write(fd, []byte(label))
		unix.Close(fd)
		if err != nil {
			return [2]uint64{}, err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return [2]uint64{}, err
	}
	return [2]uint64{uint64(st.Dev), uint64(st.Ino)}, nil
}

type vfAttacker struct {
	fd               int
	id               int
	kind             string
	objs             *vfObjects
	stop             atomic.Bool
	done             chan struct{}
	exchanges, fills atomic.Int64
	created          int
	failures         int
}

// vfAttackers is how many attackers run at once: more than one keeps the
// name under attack even when the machine is busy and one of them is not
// running.
const vfAttackers = 2

func vfStartAttacker(t *testing.T, dir string, id int, kind string, objs *vfObjects) *vfAttacker {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := &vfAttacker{fd: fd, id: id, kind: kind, objs: objs, done: make(chan struct{})}
	for k := range vfSlots {
		if err := a.create(a.slot(k)); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		defer close(a.done)
		defer unix.Close(fd)
		for i := 0; !a.stop.Load(); i++ {
			slot := a.slot(i % vfSlots)
			err := unix.Renameat2(fd, slot, fd, vfName, unix.RENAME_EXCHANGE)
			if err == nil {
				a.exchanges.Add(1)
				continue
			}
			// The name is free (removed, or taken aside): take it.
			if unix.Renameat2(fd, slot, fd, vfName, unix.RENAME_NOREPLACE) == nil {
				a.fills.Add(1)
				if a.create(slot) != nil {
					a.failures++
				}
			}
		}
	}()
	return a
}

func (a *vfAttacker) slot(k int) string { return fmt.Sprintf("atk-%d-%d", a.id, k) }

func (a *vfAttacker) create(name string) error {
	label := fmt.Sprintf("attacker-%d-%d", a.id, a.created)
	ino, err := vfMake(a.fd, name, a.kind, label)
	if err != nil {
		return err
	}
	a.created++
	a.objs.add(ino, label)
	return nil
}

func (a *vfAttacker) halt() {
	a.stop.Store(true)
	<-a.done
}

// vfAction is the verified operation under test, on "name" in d, for the
// victim's object, whose handle is h; dfd is the directory's descriptor
// for the naive victims, and dst the rename destination.
type vfAction func(d *dirfd.Dir, dfd int, h *opath.Handle, dst string) error

type vfResult struct {
	iters, ok, changed, conflicts, missing int
	refused, lookupRaces                   int
	violations                             []string
	errs                                   map[string]int
	exchanges, fills                       int64
	elapsed                                time.Duration
}

func (r *vfResult) String() string {
	return fmt.Sprintf("%d rounds in %v: %d done, %d ErrChanged (%d kept under a conflict name), %d ENOENT, %d refused by Strict, %d handles not opened (EAGAIN); other errors %v; attacker %d exchanges, %d fills; %d violations",
		r.iters, r.elapsed.Round(time.Millisecond), r.ok, r.changed, r.conflicts, r.missing, r.refused, r.lookupRaces, r.errs, r.exchanges, r.fills, len(r.violations))
}

// done: the naive control stops at its first violation (or at budget);
// racefree runs for budget, and on until it has had both a success and an
// ErrChanged (so that both outcomes are judged), within five budgets;
// Strict refusing the weaker sequence ends it at budget.
func (r *vfResult) done(elapsed, budget time.Duration, stopAtFirst bool) bool {
	switch {
	case stopAtFirst:
		return len(r.violations) > 0 || elapsed >= budget
	case elapsed >= 5*budget:
		return true
	}
	return elapsed >= budget && (r.ok > 0 && r.changed > 0 || r.refused > 0)
}

func (r *vfResult) violate(format string, args ...any) {
	if len(r.violations) < 20 {
		r.violations = append(r.violations, fmt.Sprintf(format, args...))
	} else {
		r.violations = append(r.violations, "")
	}
}

// vfRun runs the victim against the attacker for budget, or until the
// first violation when stopAtFirst (the naive control).
func vfRun(t *testing.T, kind string, rename bool, opts []dirfd.Option, act vfAction, budget time.Duration, stopAtFirst bool) *vfResult {
	t.Helper()
	root := t.TempDir()
	d, err := dirfd.Open(root, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	vfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(vfd)

	res := &vfResult{errs: map[string]int{}}
	victims := map[[2]uint64]string{} // not removed (as far as we know)
	objs := &vfObjects{byIno: map[[2]uint64]string{}}
	var attackers []*vfAttacker
	for id := range vfAttackers {
		attackers = append(attackers, vfStartAttacker(t, root, id, kind, objs))
	}
	start := time.Now()
	for ; !res.done(time.Since(start), budget, stopAtFirst); res.iters++ {
		i := res.iters
		label, own, dst := fmt.Sprintf("victim-%d", i), fmt.Sprintf("v-%d", i), fmt.Sprintf("dst-%d", i)
		ino, err := vfMake(vfd, own, kind, label)
		if err != nil {
			t.Fatal(err)
		}
		victims[ino] = label
		h, err := d.OpenHandle(own)
		if errors.Is(err, unix.EAGAIN) {
			// openat2 gave up after racing the attacker's renames too
			// often: a round lost, not a finding.
			res.lookupRaces++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		// Put it under the name; if the attacker holds the name, swap
		// (its object then waits at v-i: it is not the victim's).
		if unix.Renameat2(vfd, own, vfd, vfName, unix.RENAME_NOREPLACE) != nil &&
			unix.Renameat2(vfd, own, vfd, vfName, unix.RENAME_EXCHANGE) != nil {
			h.Close()
			continue
		}
		err = act(d, vfd, h, dst)
		var st unix.Stat_t
		if ferr := unix.Fstat(int(h.Fd()), &st); ferr != nil {
			t.Fatal(ferr)
		}
		var ce *fallback.ConflictError
		switch {
		case err == nil && !rename:
			res.ok++
			if st.Nlink != 0 {
				res.violate("round %d: removal reported success, but the victim's object still has %d links: something else was removed", i, st.Nlink)
			} else {
				delete(victims, ino)
			}
		case err == nil:
			res.ok++
			var dt unix.Stat_t
			if unix.Fstatat(vfd, dst, &dt, unix.AT_SYMLINK_NOFOLLOW) != nil || dt.Dev != st.Dev || dt.Ino != st.Ino {
				res.violate("round %d: rename reported success, but %s is not the victim's object", i, dst)
			}
		case errors.As(err, &ce):
			res.changed++
			res.conflicts++
		case errors.Is(err, dirfd.ErrChanged):
			res.changed++
		case errors.Is(err, fs.ErrNotExist):
			res.missing++
		case errors.Is(err, errors.ErrUnsupported):
			res.refused++
		default:
			res.errs[atkErrClass(err)]++
		}
		h.Close()
	}
	res.elapsed = time.Since(start)
	for _, a := range attackers {
		a.halt()
		res.exchanges += a.exchanges.Load()
		res.fills += a.fills.Load()
		if a.failures > 0 {
			t.Errorf("attacker %d failed to make %d objects", a.id, a.failures)
		}
	}

	// Account for every object with nothing moving.
	found := map[[2]uint64]string{}
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if keptStage(p, fi) {
			return filepath.SkipDir
		}
		ino, _ := inodeOf(fi)
		rel, _ := filepath.Rel(root, p)
		found[ino] = rel
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".racefree-") {
			return filepath.SkipDir // our objects are empty; only stages are looked into
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for ino, label := range objs.byIno {
		at, ok := found[ino]
		switch {
		case !ok:
			res.violate("%s was removed", label)
		case strings.HasPrefix(at, "dst-"):
			res.violate("%s was moved to %s", label, at)
		case kind == "file":
			if data, err := os.ReadFile(filepath.Join(root, at)); err != nil || string(data) != label {
				res.violate("%s: %s holds %q (%v)", label, at, data, err)
			}
		}
	}
	for ino, label := range victims {
		if _, ok := found[ino]; !ok {
			res.violate("%s was lost", label)
		}
	}
	for _, rel := range found {
		if strings.HasPrefix(rel, ".racefree-") {
			res.violate("staging leftover %s", rel)
		}
	}
	return res
}

// vfNaiveRemove is the path-based way: look, compare, unlink by name.
func vfNaiveRemove(_ *dirfd.Dir, dfd int, h *opath.Handle, _ string) error {
	var want, st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &want); err != nil {
		return err
	}
	if err := unix.Fstatat(dfd, vfName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return dirfd.ErrChanged
	}
	flags := 0
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags = unix.AT_REMOVEDIR
	}
	return unix.Unlinkat(dfd, vfName, flags)
}

func vfNaiveRename(_ *dirfd.Dir, dfd int, h *opath.Handle, dst string) error {
	var want, st unix.Stat_t
	if err := unix.Fstat(int(h.Fd()), &want); err != nil {
		return err
	}
	if err := unix.Fstatat(dfd, vfName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if st.Dev != want.Dev || st.Ino != want.Ino {
		return dirfd.ErrChanged
	}
	return unix.Renameat(dfd, vfName, dfd, dst)
}

func vfRemove(d *dirfd.Dir, _ int, h *opath.Handle, _ string) error { return d.RemoveIfSame(vfName, h) }

func vfRename(d *dirfd.Dir, _ int, h *opath.Handle, dst string) error {
	return d.RenameIfSame(vfName, h, dst)
}

func vfBudget() time.Duration {
	if testing.Short() {
		return 150 * time.Millisecond
	}
	return 500 * time.Millisecond
}

// TestAttackVerifiedMutation: the swap attack against RemoveIfSame and
// RenameIfSame, for files and directories, with the naive controls.
func TestAttackVerifiedMutation(t *testing.T) {
	for _, op := range []struct {
		name        string
		rename      bool
		ours, naive vfAction
	}{
		{"RemoveIfSame", false, vfRemove, vfNaiveRemove},
		{"RenameIfSame", true, vfRename, vfNaiveRename},
	} {
		for _, kind := range []string{"file", "dir"} {
			t.Run(op.name+"/"+kind, func(t *testing.T) {
				naive := vfRun(t, kind, op.rename, nil, op.naive, 8*time.Second, true)
				t.Logf("naive: %v", naive)
				if len(naive.violations) == 0 {
					t.Fatalf("inconclusive: the naive victim was never caught (%v): the harness cannot see a violation", naive)
				}
				t.Logf("naive caught: %s", naive.violations[0])

				// Strict: where a directory could only be handled with
				// the compare sequence (no no-replace rename), every
				// round is refused, and there is nothing to attack.
				res := vfRun(t, kind, op.rename, []dirfd.Option{dirfd.Strict()}, op.ours, vfBudget(), false)
				t.Logf("racefree: %v", res)
				for _, v := range res.violations {
					t.Errorf("racefree: %s", v)
				}
				if kind == "dir" && dirsNeedCompare() {
					if res.ok != 0 || res.refused == 0 || len(res.errs) > 0 {
						t.Errorf("profile %q: Strict should refuse every directory round: %v", profile(), res)
					}
					return
				}
				if res.ok == 0 {
					t.Fatalf("inconclusive: no round succeeded (%v)", res)
				}
				if res.changed == 0 {
					t.Logf("the attacker never held the name at the victim's check in this run (a busy machine): only the successes were tested")
				}
				if len(res.errs) > 0 || res.refused > 0 {
					t.Errorf("unexpected errors: %v", res)
				}
			})
		}
	}
}
