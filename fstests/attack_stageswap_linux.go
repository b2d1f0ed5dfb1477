package fstests

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
)

// The stage-swap attack goes for racefree's own scratch state rather than
// the victim's files (DESIGN.md, "The library's own state is attack
// surface too"). A privileged tool works in root/shared, a directory
// another user may write (mode 0777, no sticky bit: a spool, an upload
// area), which also holds the tool's own private directory secret (mode
// 0700, holding precious files). The attacker, uid 65534, cannot enter
// secret, but renaming and exchanging entries of shared needs no
// permission on the entries themselves. It watches shared with inotify,
// and every time a new directory appears there (a stage, a move-aside
// place), it exchanges it with secret, wherever secret is by then, so that
// the victim's next look at "its" new directory finds the victim's own
// private data. It also exchanges obj, the name the victim removes and
// renames by handle, with secret now and then.
//
// The harm is any change to secret or anything in it (entries removed,
// added, renamed or rewritten, its mode), wherever the attacker has moved
// it, or to the sentinel. The naive control is the stage as racefree made
// it before DESIGN.md S1/S2: opened by name after mkdirat, accepted when it
// is a directory of ours closed to others, emptied by listing when its
// rmdir fails. It empties secret as soon as the exchange lands between its
// mkdirat and openat. racefree's stage is born verified (empty, mode
// exactly 0700, fresh), and removes only names it made, by identity.
//
// The victim uses a fresh Dir for every operation, so that each one makes
// its stages anew and the attacker gets a chance at each: WriteFile,
// CreateAtomic, ReplaceSymlink, ReplaceLink, RemoveIfSame, RenameIfSame,
// the capability probe (capability.ProbeDir) and Install.
func init() {
	register(attack{name: "stage-swap", order: 55, skip: tamperSkip, run: runStageSwap})
}

// stageSwapOps are the racefree operations the victim cycles through; each
// makes a stage or a move-aside place in shared.
var stageSwapOps = []struct {
	name string
	do   func(d *dirfd.Dir, i int64) error
}{
	{"WriteFile", func(d *dirfd.Dir, i int64) error {
		return d.WriteFile("shared/f", fmt.Appendf(nil, "write %d\n", i), 0o644)
	}},
	{"CreateAtomic", func(d *dirfd.Dir, i int64) error {
		f, err := d.CreateAtomic("shared/f", 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := fmt.Fprintf(f, "atomic %d\n", i); err != nil {
			return err
		}
		return f.Commit()
	}},
	{"ReplaceSymlink", func(d *dirfd.Dir, i int64) error { return d.ReplaceSymlink(fmt.Sprintf("f.%d", i), "shared/l") }},
	{"ReplaceLink", func(d *dirfd.Dir, i int64) error { return d.ReplaceLink("shared/f", "shared/hl") }},
	{"RemoveIfSame", func(d *dirfd.Dir, i int64) error {
		if err := d.WriteFile("shared/obj", []byte("obj\n"), 0o644); err != nil {
			return err
		}
		h, err := d.OpenHandle("shared/obj")
		if err != nil {
			return err
		}
		defer h.Close()
		return d.RemoveIfSame("shared/obj", h)
	}},
	{"RenameIfSame", func(d *dirfd.Dir, i int64) error {
		if err := d.WriteFile("shared/obj", []byte("obj\n"), 0o644); err != nil {
			return err
		}
		h, err := d.OpenHandle("shared/obj")
		if err != nil {
			return err
		}
		defer h.Close()
		return d.RenameIfSame("shared/obj", h, "shared/moved")
	}},
	{"ProbeDir", func(d *dirfd.Dir, i int64) error {
		sub, err := d.OpenDir("shared")
		if err != nil {
			return err
		}
		defer sub.Close()
		_, err = capability.ProbeDir(int(sub.Fd()))
		return err
	}},
	{"Install", func(d *dirfd.Dir, i int64) error {
		return d.Install("shared/app", func(s *dirfd.Dir) error {
			return s.WriteFile("v", fmt.Appendf(nil, "%d\n", i), 0o644)
		})
	}},
}

func runStageSwap(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	s := newSentinel(t, dir)
	root := filepath.Join(dir, "root")
	shared := filepath.Join(root, "shared")
	secret := filepath.Join(shared, "secret")
	err := os.MkdirAll(filepath.Join(secret, "sub"), 0o700)
	for _, step := range []func() error{
		func() error { return os.Chmod(shared, 0o777) },
		func() error { return os.Chmod(secret, 0o700) },
		func() error { return os.WriteFile(filepath.Join(secret, "precious"), []byte("precious\n"), 0o600) },
		func() error { return os.WriteFile(filepath.Join(secret, "sub", "deep"), []byte("deep\n"), 0o600) },
		func() error { return os.WriteFile(filepath.Join(shared, "f"), []byte("seed\n"), 0o644) },
	} {
		if err == nil {
			err = step()
		}
	}
	if err != nil {
		t.Fatalf("fstests: stage-swap: %v", err)
	}
	// The victim's hold on its private directory, to judge it wherever
	// the attacker moves it.
	secretFd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(secret, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		t.Fatalf("fstests: stage-swap: %v", err)
	}
	defer unix.Close(secretFd)
	want, err := describeTree(secretFd)
	if err != nil {
		t.Fatalf("fstests: stage-swap: %v", err)
	}

	sc := tamperScene{shared: -1, bait: -1, inotify: -1}
	defer func() {
		for _, fd := range []int{sc.shared, sc.inotify} {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	if sc.shared, err = openPathDir(shared); err != nil {
		t.Fatalf("fstests: stage-swap: %v", err)
	}
	if sc.inotify, err = unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK); err != nil {
		t.Fatalf("fstests: stage-swap: inotify_init1: %v", err)
	}
	if _, err := unix.InotifyAddWatch(sc.inotify, shared, unix.IN_CREATE|unix.IN_ONLYDIR); err != nil {
		t.Fatalf("fstests: stage-swap: inotify_add_watch %s: %v", shared, err)
	}

	var op func(i int64) error
	switch side {
	case Naive:
		op = func(i int64) error { return naiveStagedWrite(shared, fmt.Appendf(nil, "naive %d\n", i)) }
	case Racefree:
		op = func(i int64) error {
			d, err := dirfd.Open(root)
			if err != nil {
				return err
			}
			defer d.Close()
			return stageSwapOps[int(i)%len(stageSwapOps)].do(d, i)
		}
	}

	a := startStageSwapper(sc)
	if why := <-a.ready; why != "" {
		a.halt()
		t.Skip(why)
	}
	var ops, escapes, refused int64
	first, firstRefusal := "", ""
	for b.more(ops, escapes) {
		ops++
		if err := op(ops); err != nil {
			refused++ // the attacker is in the way: refusing is allowed, harm is not
			if firstRefusal == "" {
				firstRefusal = err.Error()
			}
		}
		got, err := describeTree(secretFd)
		if err != nil {
			got = []string{"unreadable: " + err.Error()}
		}
		if !slices.Equal(got, want) {
			escapes++
			if first == "" {
				first = "the victim's private directory changed: " + treeDiff(want, got)
			}
		}
	}
	a.halt()
	r := Result{Ops: ops, Escapes: escapes, Refused: refused, Moves: a.swaps.Load()}
	r.Detail = fmt.Sprintf("%d operations, %d refused (first: %s); attacker (uid %d): %d new directories seen, %d exchanges", ops, refused, firstRefusal, tamperUID, a.seen.Load(), a.swaps.Load())
	r.addEscapes(first, s.changes())
	return r
}

// describeTree lists everything below the directory fd, by name, with
// identity, type, mode, size and content, and the directory's own mode and
// link count (0 once removed): what must not change.
func describeTree(fd int) ([]string, error) {
	var st unix.Stat_t
	if err := eintr.Retry(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, err
	}
	out := []string{fmt.Sprintf(". mode=%o nlink=%d", st.Mode, st.Nlink)}
	err := describeInto(fd, "", &out)
	sort.Strings(out)
	return out, err
}

func describeInto(fd int, prefix string, out *[]string) error {
	// A fresh open: btrfs lists through a descriptor only the entries older
	// than its open.
	lfd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(lfd), prefix)
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		var st unix.Stat_t
		if err := eintr.Retry(func() error { return unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
			return err
		}
		desc := fmt.Sprintf("%s%s ino=%d mode=%o size=%d", prefix, n, st.Ino, st.Mode, st.Size)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			cfd, err := eintr.Retry1(func() (int, error) { return unix.Openat(fd, n, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0) })
			if err != nil {
				return err
			}
			buf := make([]byte, 256)
			k, _ := unix.Read(cfd, buf)
			unix.Close(cfd)
			desc += fmt.Sprintf(" content=%q", buf[:max(k, 0)])
		case unix.S_IFDIR:
			cfd, err := eintr.Retry1(func() (int, error) {
				return unix.Openat(fd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			})
			if err != nil {
				return err
			}
			err = describeInto(cfd, prefix+n+"/", out)
			unix.Close(cfd)
			if err != nil {
				return err
			}
		}
		*out = append(*out, desc)
	}
	return nil
}

// treeDiff says in a few words how got differs from want.
func treeDiff(want, got []string) string {
	var d []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			d = append(d, "-"+w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			d = append(d, "+"+g)
		}
	}
	return strings.Join(d, ", ")
}

// naiveStagedWrite publishes data as shared/f through a stage as racefree
// made it before DESIGN.md S1/S2: made with mkdirat, opened by name,
// accepted when it is a directory of ours without group or other access,
// and emptied by listing when its rmdir fails.
func naiveStagedWrite(shared string, data []byte) error {
	var b [12]byte
	rand.Read(b[:])
	name := ".racefree-" + hex.EncodeToString(b[:])
	stage := filepath.Join(shared, name)
	if err := os.Mkdir(stage, 0o700); err != nil {
		return err
	}
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(stage, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR || int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0 {
		return fmt.Errorf("%s is not our stage", name)
	}
	ffd, err := eintr.Retry1(func() (int, error) {
		return unix.Openat(fd, "file", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
	})
	if err == nil {
		_, err = unix.Write(ffd, data)
		unix.Close(ffd)
	}
	if err == nil {
		err = unix.Renameat(fd, "file", unix.AT_FDCWD, filepath.Join(shared, "f"))
	}
	if unix.Rmdir(stage) != nil {
		// Not empty: empty it through the descriptor, then try again.
		lfd, lerr := unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if lerr == nil {
			f := os.NewFile(uintptr(lfd), name)
			names, _ := f.Readdirnames(-1)
			f.Close()
			for _, n := range names {
				unix.Unlinkat(fd, n, 0)
			}
		}
		unix.Rmdir(stage)
	}
	return err
}

// stageSwapper is the attacker: a goroutine running as uid tamperUID.
type stageSwapper struct {
	sc    tamperScene
	stop  atomic.Bool
	seen  atomic.Int64
	swaps atomic.Int64
	ready chan string
	done  chan struct{}
}

func startStageSwapper(sc tamperScene) *stageSwapper {
	a := &stageSwapper{sc: sc, ready: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		runtime.LockOSThread() // never unlocked: see startTamperer
		if err := becomeUser(tamperUID); err != nil {
			a.ready <- fmt.Sprintf("cannot run the attacker as uid %d: %v", tamperUID, err)
			return
		}
		if why := a.probe(); why != "" {
			a.ready <- why
			return
		}
		a.ready <- ""
		a.attack()
	}()
	return a
}

// probe checks, as the attacker, that this filesystem gives the attack a
// meaning: the attacker can exchange the victim's private directory with
// a name of its own in shared, but cannot enter it.
func (a *stageSwapper) probe() string {
	if err := eintr.Retry(func() error { return unix.Mkdirat(a.sc.shared, "probe", 0o755) }); err != nil {
		return fmt.Sprintf("uid %d cannot make a directory in a mode-0777 directory of this filesystem (%v), so it cannot attack here", tamperUID, err)
	}
	defer eintr.Retry(func() error { return unix.Unlinkat(a.sc.shared, "probe", unix.AT_REMOVEDIR) })
	defer a.drain()
	if fd, err := unix.Openat(a.sc.shared, "secret", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		unix.Close(fd)
		return fmt.Sprintf("this filesystem lets uid %d open root's mode-0700 directory: it does not enforce permissions, so nothing holds against another user here", tamperUID)
	}
	if err := a.swap("probe", "secret"); err != nil {
		return fmt.Sprintf("uid %d cannot exchange or rename entries of a mode-0777 directory here (%v), so it cannot attack here", tamperUID, err)
	}
	if err := a.swap("probe", "secret"); err != nil {
		return fmt.Sprintf("uid %d cannot swap back (%v)", tamperUID, err)
	}
	return ""
}

// swap exchanges two names of shared: RENAME_EXCHANGE, or three renames
// where the filesystem refuses rename flags.
func (a *stageSwapper) swap(x, y string) error {
	err := eintr.Retry(func() error { return unix.Renameat2(a.sc.shared, x, a.sc.shared, y, unix.RENAME_EXCHANGE) })
	if err != unix.EINVAL && err != unix.ENOSYS && err != unix.EOPNOTSUPP {
		return err
	}
	tmp := x + ".swap"
	if err := unix.Renameat(a.sc.shared, x, a.sc.shared, tmp); err != nil {
		return err
	}
	if err := unix.Renameat(a.sc.shared, y, a.sc.shared, x); err != nil {
		unix.Renameat(a.sc.shared, tmp, a.sc.shared, x)
		return err
	}
	return unix.Renameat(a.sc.shared, tmp, a.sc.shared, y)
}

func (a *stageSwapper) drain() {
	buf := make([]byte, 4096)
	for {
		if _, err := eintr.Retry1(func() (int, error) { return unix.Read(a.sc.inotify, buf) }); err != nil {
			return
		}
	}
}

// attack exchanges every new directory of shared with the victim's private
// directory, following it wherever it went, and now and then the names
// the victim works on too.
func (a *stageSwapper) attack() {
	buf := make([]byte, 64<<10)
	secret := "secret" // where the victim's private directory is now
	var n int
	for !a.stop.Load() {
		fds := []unix.PollFd{{Fd: int32(a.sc.inotify), Events: unix.POLLIN}}
		if k, err := unix.Poll(fds, 20); k <= 0 || err != nil {
			continue
		}
		k, err := eintr.Retry1(func() (int, error) { return unix.Read(a.sc.inotify, buf) })
		if err != nil {
			continue
		}
		inotifyEvents(buf[:k], func(mask uint32, name string) {
			if mask&unix.IN_ISDIR == 0 || name == secret || strings.HasSuffix(name, ".swap") {
				return
			}
			a.seen.Add(1)
			if a.swap(name, secret) == nil {
				a.swaps.Add(1)
				secret = name
			}
			// The name the victim removes and renames by handle, every
			// few events. (Not app: Install replaces whatever directory
			// is at its name, as RemoveAll removes it; in a directory
			// others may rename in, that is the caller's choice of name.)
			if n++; n%3 == 0 && a.swap("obj", secret) == nil {
				a.swaps.Add(1)
				secret = "obj"
			}
		})
	}
}

func (a *stageSwapper) halt() {
	a.stop.Store(true)
	<-a.done
}
