//go:build unix

package fstests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/racefree/racefree/dirfd"
)

// The `ln -sf` window: a release tool points root/current at v1, then v2,
// then v1 again, over and over, while other programs resolve root/current.
// A hand-written `ln -sf` removes the old link and then creates the new
// one, so for a moment the name is missing and every program that looks
// then fails with ENOENT. The attacker here is nothing
// but the readers: two goroutines that resolve root/current continuously.
// An escape is a reader finding the name missing, or pointing at anything
// that was never published. G2 says a reader sees the old link or the new
// one, never neither. On Linux a witness (inotify) also counts every
// unlink of current: a moment the name was missing for every reader, seen
// even when no reader happened to run just then (a loaded machine).
// rename(2) over the name never unlinks it.
//
// The readers read the link and follow it to its end (stat of current),
// not through it to a file below (current/f): on btrfs (Linux 6.18) a path
// walk that continues past a symlink that rename(2) replaces at that
// moment was seen failing with ENOENT about once in two million walks,
// whoever renames and however (a bare renameat does it), while the link
// itself never went missing. That is the kernel's walk, not the
// replacement, and no way of replacing can change it.
func init() {
	register(attack{name: "replace", order: 50, run: runReplace})
}

// replaceTargets are the link's published targets, in the order the victim
// alternates them.
var replaceTargets = [2]string{"v1", "v2"}

func runReplace(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	skipIfForgetsReplaced(t, dir)
	s := newSentinel(t, dir)
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatalf("fstests: replace: %v", err)
	}
	versions := map[devIno]string{} // v1 and v2: what current may resolve to
	for _, v := range replaceTargets {
		err := os.Mkdir(filepath.Join(root, v), 0o755)
		var fi fs.FileInfo
		if err == nil {
			fi, err = os.Stat(filepath.Join(root, v))
		}
		if err != nil {
			t.Fatalf("fstests: replace: %v", err)
		}
		id, _ := idOf(fi)
		versions[id] = v
	}
	rootInfo, err := os.Stat(root)
	if err != nil {
		t.Fatalf("fstests: replace: %v", err)
	}
	rootID, _ := idOf(rootInfo)
	// selfResolved counts reads that followed current to root itself, as
	// if the link said ".". btrfs (seen on Linux 6.18) does that about
	// once in a few million lookups racing a rename over a symlink, with
	// a plain rename(2) in the same directory too: the filesystem breaks
	// the atomicity every replacement method relies on, and no program can
	// prevent it. It is reported, on both sides, not counted as an escape.
	var selfResolved atomic.Int64
	current := filepath.Join(root, "current")
	if err := os.Symlink(replaceTargets[0], current); err != nil {
		t.Fatalf("fstests: replace: %v", err)
	}

	var replace func(target string) error
	switch side {
	case Naive:
		replace = func(target string) error {
			if err := os.Remove(current); err != nil {
				return err
			}
			return os.Symlink(target, current)
		}
	case Racefree:
		d, err := dirfd.Open(root)
		if err != nil {
			t.Fatalf("fstests: replace: %v", err)
		}
		defer d.Close()
		replace = func(target string) error { return d.ReplaceSymlink(target, "current") }
	}

	rd := startReaders(2, func() (string, error) {
		target, err := os.Readlink(current)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "a reader found current missing (readlink: ENOENT)", nil
		case err != nil:
			return "", err
		case target != replaceTargets[0] && target != replaceTargets[1]:
			return fmt.Sprintf("current -> %q, never published", target), nil
		}
		fi, err := os.Stat(current)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "a reader found current missing (stat: ENOENT)", nil
		case err != nil:
			return "", err
		}
		if rel, ok := s.holds(fi); ok {
			return "current resolved to outside/" + rel, nil
		}
		switch id, _ := idOf(fi); {
		case id == rootID:
			selfResolved.Add(1)
		case versions[id] == "":
			return "current resolved to neither v1 nor v2", nil
		}
		return "", nil
	})
	w, err := watchUnlinks(root, "current")
	if err != nil {
		rd.halt()
		t.Fatalf("fstests: replace: %v", err)
	}
	defer w.close()
	var ops, unlinks int64
	first := ""
	for b.more(ops, rd.escapes.Load()+unlinks) {
		err := replace(replaceTargets[(ops+1)%2])
		ops++
		if err != nil {
			t.Errorf("fstests: replace: %s victim, replace %d: %v", side, ops, err)
			break
		}
		if n := w.unlinks(); n > 0 {
			unlinks += n
			if first == "" && rd.first() == "" {
				first = fmt.Sprintf("current was unlinked in replace %d: missing for every reader until it was made again", ops)
			}
		}
	}
	rd.halt()
	if err := rd.err(); err != nil {
		t.Errorf("fstests: replace: reader: %v", err)
	}
	if first == "" {
		first = rd.first()
	}
	r := Result{Ops: ops, Escapes: rd.escapes.Load() + unlinks}
	r.Moves = rd.reads.Load()
	r.Detail = fmt.Sprintf("%d replaces, %d reads, %d unlinks of current", ops, r.Moves, unlinks)
	if n := selfResolved.Load(); n > 0 {
		r.Detail += fmt.Sprintf("; %d reads resolved current to its own directory, a defect of this filesystem that plain rename(2) shows too (not counted)", n)
	}
	r.addEscapes(first, s.changes())
	return r
}

// forgetful caches forgetsReplaced by device: the answer is the
// filesystem's, and asking spends a side's budget on a slow one.
var forgetful sync.Map // device -> the reason, or ""

// skipIfForgetsReplaced skips an attack whose readers would be failed by
// the filesystem itself (see forgetsReplaced).
func skipIfForgetsReplaced(t *testing.T, dir string) {
	t.Helper()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	id, _ := idOf(fi)
	why, ok := forgetful.Load(id.dev)
	if !ok {
		w, err := forgetsReplaced(dir)
		if err != nil {
			t.Fatalf("fstests: probing %s: %v", dir, err)
		}
		why, _ = forgetful.LoadOrStore(id.dev, w)
	}
	if why := why.(string); why != "" {
		t.Skip(why)
	}
}

// addEscapes adds what the attack saw and what changed under the sentinel
// (each change an escape) to r, and names the first escape in r.Detail.
func (r *Result) addEscapes(first string, changes []string) {
	r.Escapes += int64(len(changes))
	if first == "" && len(changes) > 0 {
		first = "sentinel " + changes[0]
	}
	if first != "" {
		r.Detail += "; first escape: " + first
	}
}

// readers is the attacker of the attacks whose harm is what an ordinary
// program sees while the victim works: n goroutines that read in a loop
// until halted, each read saying what escape it saw, if any.
type readers struct {
	stop     atomic.Bool
	wg       sync.WaitGroup
	reads    atomic.Int64
	escapes  atomic.Int64
	firstEsc atomic.Pointer[string]
	firstErr atomic.Pointer[error]
}

// startReaders starts n goroutines calling read until halt. read returns
// a description of the escape it saw, or "" for a clean read; an error
// (one the attack cannot explain) ends that reader and is kept for err.
func startReaders(n int, read func() (escape string, err error)) *readers {
	r := &readers{}
	for range n {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for !r.stop.Load() {
				escape, err := read()
				if err != nil {
					r.firstErr.CompareAndSwap(nil, &err)
					return
				}
				r.reads.Add(1)
				if escape != "" {
					r.escapes.Add(1)
					r.firstEsc.CompareAndSwap(nil, &escape)
				}
			}
		}()
	}
	return r
}

// halt stops the readers and waits for them.
func (r *readers) halt() {
	r.stop.Store(true)
	r.wg.Wait()
}

// first describes the first escape a reader saw, or is "".
func (r *readers) first() string {
	if p := r.firstEsc.Load(); p != nil {
		return *p
	}
	return ""
}

// err is the first error that ended a reader, or nil.
func (r *readers) err() error {
	if p := r.firstErr.Load(); p != nil {
		return *p
	}
	return nil
}
