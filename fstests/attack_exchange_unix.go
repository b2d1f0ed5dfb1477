//go:build unix

package fstests

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/racefree/racefree/dirfd"
)

// The symlink-exchange attack (CVE-2018-15664, "docker cp"): the victim
// works on names below root/inside while the attacker exchanges the
// directory root/inside with root/link, a symlink to the sentinel tree, as
// fast as it can, so that at any instant "inside" may be that symlink. A
// path-based victim follows it and reads, writes, creates and removes
// outside its root; a Dir must refuse every name that would leave it.
//
// It runs twice, once per kind of link target: an absolute one
// (exchange-abs), which a Beneath Dir refuses and an InRoot Dir resolves
// inside the root, and a relative one climbing out with "../.."
// (exchange-rel: "../../SCENE/outside", SCENE being the scene directory's
// own name, so the climb passes above the scene and comes back down into it
// by name and the naive victim still only reaches the sentinel).
func init() {
	register(attack{name: "exchange-abs", order: 10, run: func(t *testing.T, dir string, side Side, b *budget) Result {
		return runExchange(t, dir, side, b, filepath.Join(dir, "outside"))
	}})
	register(attack{name: "exchange-rel", order: 11, run: func(t *testing.T, dir string, side Side, b *budget) Result {
		return runExchange(t, dir, side, b, filepath.Join("..", "..", filepath.Base(dir), "outside"))
	}})
}

// exchangeVictim is one way of doing the victim's work; every name it is
// given is below root/inside.
type exchangeVictim struct {
	open      func(name string) (*os.File, error)
	stat      func(name string) (fs.FileInfo, error)
	create    func(name string) (*os.File, error) // O_CREATE, for writing
	mkdirAll  func(name string) error
	removeAll func(name string) error
	remove    func(name string) error
}

func naiveExchangeVictim(root string) exchangeVictim {
	p := func(name string) string { return filepath.Join(root, name) }
	return exchangeVictim{
		open: func(name string) (*os.File, error) { return os.Open(p(name)) },
		stat: func(name string) (fs.FileInfo, error) { return os.Stat(p(name)) },
		create: func(name string) (*os.File, error) {
			return os.OpenFile(p(name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		},
		mkdirAll:  func(name string) error { return os.MkdirAll(p(name), 0o777) },
		removeAll: func(name string) error { return os.RemoveAll(p(name)) },
		remove:    func(name string) error { return os.Remove(p(name)) },
	}
}

func dirExchangeVictim(d *dirfd.Dir) exchangeVictim {
	return exchangeVictim{
		open: d.Open,
		stat: d.Stat,
		create: func(name string) (*os.File, error) {
			return d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		},
		mkdirAll:  func(name string) error { return d.MkdirAll(name, 0o777) },
		removeAll: d.RemoveAll,
		remove:    d.Remove,
	}
}

// exchangeOps are the victim's operations, in the order it cycles through
// them, each with the harm it would do through the swapped-in link. Open,
// Stat and Create are judged by the object they reached, and Create also by
// the sentinel's names right after the call; MkdirAll makes sub/a/b, which
// lands in the sentinel's own sub when "inside" is the link; RemoveAll
// removes sub, which is then the sentinel's sub with g in it.
var exchangeOps = []string{"Open", "Stat", "Create", "MkdirAll", "RemoveAll"}

func runExchange(t *testing.T, dir string, side Side, b *budget, target string) Result {
	t.Helper()
	root := filepath.Join(dir, "root")
	inside := filepath.Join(root, "inside")
	for _, step := range []func() error{
		func() error { return os.MkdirAll(inside, 0o777) },
		func() error { return os.WriteFile(filepath.Join(inside, "f"), []byte("inside f\n"), 0o666) },
		func() error { return os.Symlink(target, filepath.Join(root, "link")) },
	} {
		if err := step(); err != nil {
			t.Fatalf("fstests: exchange scene: %v", err)
		}
	}
	s := newSentinel(t, dir)

	// The racefree victim alternates a Beneath Dir, which must refuse the
	// link, with an InRoot Dir, which must resolve it inside the root.
	victims := []exchangeVictim{naiveExchangeVictim(root)}
	if side == Racefree {
		victims = victims[:0]
		for _, opt := range []dirfd.Option{dirfd.Beneath(), dirfd.InRoot()} {
			d, err := dirfd.Open(root, opt)
			if err != nil {
				t.Fatalf("fstests: %v", err)
			}
			defer d.Close()
			victims = append(victims, dirExchangeVictim(d))
		}
	}

	var r Result
	var first string
	var noSpace int64
	escaped := func(what string) {
		r.Escapes++
		if first == "" {
			first = what
		}
	}
	// outcome counts one operation's error: the attack's fault when it is
	// a refusal mid-swap, the victim's own otherwise (racefree must not
	// fail for any other reason).
	outcome := func(op string, err error) bool {
		switch {
		case err == nil:
			return true
		case side == Naive || exchangeRefused(err):
			r.Refused++
		case outOfSpace(err):
			r.Refused++
			noSpace++
		default:
			t.Errorf("fstests: %s under attack: %v", op, err)
		}
		return false
	}
	// judgeFile counts a descriptor the victim got that is in the sentinel.
	judgeFile := func(op string, f *os.File) {
		fi, err := f.Stat()
		if err != nil {
			t.Errorf("fstests: fstat after %s: %v", op, err)
			return
		}
		if rel, ok := s.holds(fi); ok {
			escaped(fmt.Sprintf("%s got outside/%s", op, rel))
		}
	}
	exists := func(rel string) bool {
		_, err := os.Lstat(filepath.Join(s.dir, rel))
		return err == nil
	}

	at, release := heldDir(t, root) // one lookup per rename, not one per component: FUSE answers slowly
	defer release()
	sw := startSwapper(at, "inside", "link")
	for i := 0; sw.next(b, r.Ops, r.Escapes); i++ {
		v := victims[(i/len(exchangeOps))%len(victims)]
		op := exchangeOps[i%len(exchangeOps)]
		r.Ops++
		switch op {
		case "Open":
			f, err := v.open("inside/f")
			if outcome(op, err) {
				judgeFile(op, f)
				_, err = io.Copy(io.Discard, f)
				outcome(op+" read", err)
				f.Close()
			}
		case "Stat":
			fi, err := v.stat("inside/f")
			if outcome(op, err) {
				if rel, ok := s.holds(fi); ok {
					escaped("Stat reached outside/" + rel)
				}
			}
		case "Create":
			f, err := v.create("inside/new")
			created := outcome(op, err)
			if created {
				judgeFile(op, f)
				_, err = f.Write([]byte("victim\n"))
				outcome(op+" write", err)
				f.Close()
			}
			if exists("new") {
				escaped("Create made outside/new")
			}
			if created {
				outcome(op+" remove", v.remove("inside/new"))
			}
		case "MkdirAll":
			outcome(op, v.mkdirAll("inside/sub/a/b"))
			if exists("sub/a") {
				escaped("MkdirAll made outside/sub/a")
			}
		case "RemoveAll":
			outcome(op, v.removeAll("inside/sub"))
			if !exists("sub/g") {
				escaped("RemoveAll removed outside/sub")
			}
		}
	}
	sw.halt()

	changes := s.changes()
	r.Escapes += int64(len(changes))
	if first == "" && len(changes) > 0 {
		first = changes[0]
	}
	how := "exchange"
	if !sw.atomic.Load() {
		how = "rotation"
	}
	r.Moves = sw.swaps.Load()
	r.Detail = fmt.Sprintf("%d swaps by %s", r.Moves, how)
	if n := sw.fails.Load(); n > 0 {
		r.Detail += fmt.Sprintf(" (%d failed)", n)
	}
	if noSpace > 0 {
		r.Detail += fmt.Sprintf("; %d refused for lack of space", noSpace)
	}
	if first != "" {
		r.Detail += "; first escape: " + first
	}
	return r
}

// exchangeRefused reports whether err is how a Dir refuses a name while
// the attacker swaps it: the link leads out (ErrEscape), or, in InRoot mode
// or during a rotation, to nothing (ENOENT) or to a symlink or file where a
// directory was (ENOTDIR, ELOOP, EEXIST from MkdirAll), or an object moved
// while a removal held it (ErrChanged).
func exchangeRefused(err error) bool {
	for _, e := range []error{dirfd.ErrEscape, dirfd.ErrChanged, syscall.ENOENT, syscall.ENOTDIR, syscall.ELOOP, syscall.EEXIST} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// outOfSpace reports whether err says the filesystem is full. That is
// nobody's escape and no fault of racefree: the churn of an attack on a
// small filesystem that other tests share (a test image of the least size
// mkfs accepts) can run it out of space, or of metadata space, for a while.
// Attacks count such operations apart instead of failing.
func outOfSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
