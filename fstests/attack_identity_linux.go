//go:build linux

package fstests

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
)

// Identity pinning (runc CVE-2025-31133 and its class: a path checked to
// be /dev/null, then bind-mounted or written): the victim checks that
// "target" is the regular file it made, by type and inode, and then acts
// on it: chmod 0600, truncate and write. The attacker, who can write the
// directory, keeps replacing target with a symlink to the sentinel's
// secret, and the symlink with the file again. A victim that checks by lstat and then acts by path acts on
// whatever the name is by then: it chmods and overwrites the sentinel.
//
// racefree's victim opens a handle on the name (O_PATH, never following
// it), checks the handle, and then acts only through it: the chmod on the
// handle, the write through a reopening of the handle. What it checked is
// what it changes, whatever the name means afterwards.
//
// The attacker replaces target by renaming over it, in turn a fresh
// symlink and a fresh hard link of the victim's file, rather than
// exchanging two names: a file and a symlink can replace each other, so
// the name is never missing, on every filesystem, with or without rename
// flags. (A rotation through a third name, where exchange is missing,
// leaves the name absent a third of the time, and a victim that finds it
// absent is not fooled.)

const idContent = "victim's own data\n"

func init() {
	register(attack{name: "identity", order: 40, run: runIdentity})
}

// identityOp checks target and, if it is the victim's file (want), opens
// it for writing after its chmod. When the check fails, the victim rightly
// leaves the name alone and says dirfd.ErrChanged.
type identityOp func(want devIno) (*os.File, error)

// idGap is the pause both victims make between their check and their act,
// where real ones do their work (runc prepares the mount of the /dev/null
// it checked; a configuration writer renders what it will write). Without
// it the window is two system calls long, and on a busy machine, where the
// attacker and the victim mostly run in turns, the attacker gets into it
// only when the scheduler happens to preempt the victim there: too seldom
// for a control that must be caught within a short budget.
const idGap = 10 * time.Microsecond

func naiveIdentity(target string) identityOp {
	return func(want devIno) (*os.File, error) {
		fi, err := os.Lstat(target)
		if err != nil {
			return nil, err
		}
		if id, _ := idOf(fi); !fi.Mode().IsRegular() || id != want {
			return nil, dirfd.ErrChanged
		}
		time.Sleep(idGap)
		if err := os.Chmod(target, 0o600); err != nil {
			return nil, err
		}
		return os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
	}
}

func racefreeIdentity(d *dirfd.Dir) identityOp {
	return func(want devIno) (*os.File, error) {
		h, err := d.OpenHandle("target")
		if err != nil {
			return nil, err
		}
		defer h.Close()
		fi, err := h.Stat()
		if err != nil {
			return nil, err
		}
		if id, _ := idOf(fi); !fi.Mode().IsRegular() || id != want {
			return nil, dirfd.ErrChanged
		}
		time.Sleep(idGap)
		if err := h.Chmod(0o600); err != nil {
			return nil, err
		}
		return h.Reopen(os.O_WRONLY | os.O_TRUNC)
	}
}

func runIdentity(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	s := newSentinel(t, dir)
	root := filepath.Join(dir, "root")
	target := filepath.Join(root, "target")
	for _, step := range []func() error{
		func() error { return os.Mkdir(root, 0o777) },
		func() error { return os.WriteFile(target, []byte(idContent), 0o644) },
		func() error { return os.Link(target, filepath.Join(root, "keep")) },
	} {
		if err := step(); err != nil {
			t.Fatalf("fstests: identity scene: %v", err)
		}
	}
	fi, err := os.Lstat(target)
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	want, _ := idOf(fi)
	op := naiveIdentity(target)
	if side == Racefree {
		d, err := dirfd.Open(root)
		if err != nil {
			t.Fatalf("fstests: %v", err)
		}
		defer d.Close()
		op = racefreeIdentity(d)
	}

	var r Result
	var first string
	var writes int64
	refused := refusals{}
	sw := startReplacer(t, root)
	for b.more(r.Ops, r.Escapes) {
		r.Ops++
		f, err := op(want)
		if err != nil {
			// Out of space: a small test image full for a moment.
			if !refusedMidSwap(err) && !outOfSpace(err) {
				t.Errorf("fstests: identity: %v", err)
			}
			r.Refused++
			refused.add(err)
		} else {
			if fi, err := f.Stat(); err == nil {
				if rel, ok := s.holds(fi); ok {
					r.Escapes++
					first = "opened outside/" + rel
				}
			}
			if _, err := f.WriteString(idContent); err != nil {
				t.Errorf("fstests: identity: write: %v", err)
			}
			f.Close()
			writes++
		}
		if c := s.changes(); len(c) > 0 {
			// The sentinel no longer matches its record, so later
			// operations could not be judged: stop here.
			r.Escapes += int64(len(c))
			if first == "" {
				first = "outside/" + firstHarm(c)
			}
			break
		}
		// After a refusal the victim waits for the attacker to move:
		// on a busy machine the two run in turns, and a victim that
		// went on at once would meet the same symlink again, and keep
		// the attacker off the CPU.
		if err != nil && !sw.next(b, r.Ops, r.Escapes) {
			break
		}
	}
	sw.halt()
	r.Moves = sw.swaps.Load()
	r.Detail = fmt.Sprintf("%d replacements, %d writes%s", r.Moves, writes, refused)
	if first != "" {
		r.Detail += fmt.Sprintf("; escaped at op %d: %s", r.Ops, first)
	}
	return r
}

// startReplacer starts the identity attacker: it renames over root/target,
// in turn, a new symlink to ../outside/secret and a new hard link of
// root/keep (the victim's file), through a descriptor of root so that each
// step costs one lookup even where lookups are slow (FUSE). It is a
// swapper (its swaps count the replacements; halt and next work as for any
// swapper) with another move.
func startReplacer(t *testing.T, root string) *swapper {
	t.Helper()
	fd, err := eintr.Retry1(func() (int, error) {
		return unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	sw := &swapper{done: make(chan struct{})}
	steps := []func() error{
		func() error { return unix.Symlinkat("../outside/secret", fd, "target.new") },
		func() error { return unix.Linkat(fd, "keep", fd, "target.new", 0) },
	}
	go func() {
		defer close(sw.done)
		defer unix.Close(fd)
		for i := 0; !sw.stop.Load(); {
			err := eintr.Retry(steps[i%2])
			if err == nil {
				err = eintr.Retry(func() error { return unix.Renameat(fd, "target.new", fd, "target") })
			}
			if err != nil {
				// A move that failed may leave target.new behind:
				// clear the name and make the same move again.
				_ = unix.Unlinkat(fd, "target.new", 0)
				sw.fails.Add(1)
				continue
			}
			sw.swaps.Add(1)
			i++
		}
	}()
	return sw
}
