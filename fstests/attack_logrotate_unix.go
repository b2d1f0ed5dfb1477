//go:build unix

package fstests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/racefree/racefree/dirfd"
)

// The log-rotation race (logrotate's "create" step, and every daemon that
// rotates its own logs in a directory another user can write): the victim,
// privileged, renames logs/app.log to logs/app.log.1, creates a fresh
// logs/app.log and gives it its owner and mode. The attacker, who can write
// the directory holding logs, keeps exchanging logs with a symlink to the
// sentinel. A victim that names each step by path does each step wherever
// logs points at that instant: it creates its log in the sentinel, moves
// files into it, or chowns and chmods what it finds there.
//
// racefree's victim makes the same calls through a Dir on the scene's root
// (each name is resolved under attack, the symlink refused as an escape),
// and sets the new log's owner and mode through the descriptor it created,
// never by name. Owner and group are the process's own, so the test runs
// unprivileged too; a chown to the current owner still changes the change
// time, which the sentinel records.

const (
	rotLog   = "logs/app.log"
	rotOld   = "logs/app.log.1"
	rotPerm  = 0o640
	rotFresh = 0o600 // the mode the log is created with, before the chmod
)

func init() {
	register(attack{name: "logrotate", order: 30, run: runLogrotate})
}

// rotator is one way of rotating the log: each method is a step, in dir,
// the scene's root.
type rotator struct {
	rename func() error
	create func() (*os.File, error)
	// own gives the new log, open as f, its owner and mode; the rotated
	// log gets its owner again too (as after compressing it).
	own func(f *os.File) error
}

func naiveRotator(root string) rotator {
	p := func(name string) string { return filepath.Join(root, name) }
	uid, gid := os.Getuid(), os.Getgid()
	return rotator{
		rename: func() error { return os.Rename(p(rotLog), p(rotOld)) },
		create: func() (*os.File, error) {
			return os.OpenFile(p(rotLog), os.O_WRONLY|os.O_CREATE|os.O_EXCL, rotFresh)
		},
		own: func(*os.File) error {
			return firstErr(
				func() error { return os.Chown(p(rotLog), uid, gid) },
				func() error { return os.Chmod(p(rotLog), rotPerm) },
				func() error { return os.Lchown(p(rotOld), uid, gid) },
			)
		},
	}
}

func racefreeRotator(d *dirfd.Dir) rotator {
	uid, gid := os.Getuid(), os.Getgid()
	return rotator{
		rename: func() error { return d.Rename(rotLog, rotOld) },
		create: func() (*os.File, error) {
			return d.OpenFile(rotLog, os.O_WRONLY|os.O_CREATE|os.O_EXCL, rotFresh)
		},
		own: func(f *os.File) error {
			return firstErr(
				func() error { return f.Chown(uid, gid) },
				func() error { return f.Chmod(rotPerm) },
				func() error { return d.Lchown(rotOld, uid, gid) },
			)
		},
	}
}

// firstErr runs steps in turn, up to the first that fails.
func firstErr(steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func runLogrotate(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	s := newSentinel(t, dir)
	root := filepath.Join(dir, "root")
	for _, step := range []func() error{
		func() error { return os.MkdirAll(filepath.Join(root, "logs"), 0o777) },
		func() error { return os.WriteFile(filepath.Join(root, rotLog), []byte("log\n"), 0o666) },
		func() error { return os.Symlink(s.dir, filepath.Join(root, "evil")) },
	} {
		if err := step(); err != nil {
			t.Fatalf("fstests: logrotate scene: %v", err)
		}
	}
	rot := naiveRotator(root)
	if side == Racefree {
		d, err := dirfd.Open(root)
		if err != nil {
			t.Fatalf("fstests: %v", err)
		}
		defer d.Close()
		rot = racefreeRotator(d)
	}

	// rotateLog is one victim operation: it returns what it opened in the
	// sentinel, if it did, or the step that failed.
	rotateLog := func() (string, error) {
		// A missing log is no error ("missingok"): a refused rotation
		// leaves none to rotate next time.
		if err := rot.rename(); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		f, err := rot.create()
		if err != nil {
			return "", err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			if rel, ok := s.holds(fi); ok {
				return "opened outside/" + rel, nil
			}
		}
		return "", rot.own(f)
	}
	var r Result
	var first string
	var rotations int64
	refused := refusals{}
	at, release := heldDir(t, root)
	defer release()
	sw := startSwapper(at, "logs", "evil")
	// Each operation waits for the attacker to have moved since the one
	// before: on a busy machine the two run in turns, and a victim that
	// went on at once would meet the same state of the scene again.
	for sw.next(b, r.Ops, r.Escapes) {
		r.Ops++
		harm, err := rotateLog()
		switch {
		case harm != "":
			r.Escapes++
			first = harm
		case err == nil:
			rotations++
		default:
			// EEXIST: the rename met a missing logs (a rotation's
			// gap), so the log was never moved away. Out of space: a
			// small test image full for a moment.
			if !refusedMidSwap(err) && !errors.Is(err, fs.ErrExist) && !outOfSpace(err) {
				t.Errorf("fstests: logrotate: %v", err)
			}
			r.Refused++
			refused.add(err)
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
	}
	sw.halt()
	r.Moves = sw.swaps.Load()
	r.Detail = fmt.Sprintf("%d swaps, %d rotations%s", r.Moves, rotations, refused)
	if first != "" {
		r.Detail += fmt.Sprintf("; escaped at op %d: %s", r.Ops, first)
	}
	return r
}
