//go:build unix

package fstests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/racefree/racefree/dirfd"
)

// The tree-swap attack (systemd-tmpfiles' recursive chown and chmod,
// CVE-2017-18078 and CVE-2018-6954; kubelet's fsGroup walk; "docker cp",
// CVE-2018-15664): a privileged tree job (chown -R, chmod -R, cp -a, or a
// plain walk that looks at what it finds) runs over a tree another user
// can write. That user exchanges a directory of the tree, tree/d, with a
// symlink to the sentinel, s, at the moment the job opens d to list it
// (the cleaner's striker): a job that then acts on the names it listed by
// paths through tree/d follows the symlink and changes, or reads, the
// sentinel's files, which have the same names as d's. Every other cycle of
// jobs, the attacker aims at the files instead: it exchanges tree/d/f with
// a symlink to the sentinel's f, over and over, while the job runs, so a
// job that changes or reads a file it listed by a name that follows a
// final symlink (chmod(2), open(2) without O_NOFOLLOW) reaches the
// sentinel. (Hard links to the sentinel are left out: only a user who may
// write the sentinel can make one where fs.protected_hardlinks is on, and
// where it is off the tree jobs refuse hard-linked files; see ChownTree.)
//
// The victim cycles through four jobs, one per operation, each on a tree
// rebuilt with nothing moving: chown (to group 4242 as root; unprivileged,
// to the caller's own uid and gid, which chown(2) still records in the
// ctime that the sentinel checks), chmod (0640 files, 0750 directories), a copy of
// the tree, and a walk that lstats every entry. The naive victim is
// filepath.WalkDir with os.Lchown, os.Chmod and os.ReadFile by path; the
// racefree one ChownTree, ChmodTree, CopyTree and WalkDir. Harm is any
// change to the sentinel, a copy holding the sentinel's data, and a walk
// entry that is a sentinel object.
func init() {
	register(attack{name: "tree-swap", order: 21, run: runTreeSwap})
}

// treeJobs are the victim's jobs, in the order it cycles through them.
var treeJobs = []string{"chown", "chmod", "copy", "walk"}

// treeRounds are what the attacker aims at in successive cycles of jobs:
// the directory tree/d, or the files in it (see strikeScene.swapRound).
var treeRounds = []string{"directory", "files"}

// treeVictim does one job on root/tree; copies go to root/copy. A walk
// reports what it met to seen.
type treeVictim func(job string, seen func(fs.FileInfo)) error

// treeOwner is what the chown job gives the tree: a real change as root,
// the caller's own owner and group otherwise.
func treeOwner() (uid, gid int) {
	if os.Geteuid() == 0 {
		return 0, 4242
	}
	return os.Geteuid(), os.Getegid()
}

func naiveTreeVictim(root string) treeVictim {
	tree, copyTo := filepath.Join(root, "tree"), filepath.Join(root, "copy")
	uid, gid := treeOwner()
	return func(job string, seen func(fs.FileInfo)) error {
		return filepath.WalkDir(tree, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return nil // gone or swapped: a naive job goes on
			}
			switch job {
			case "chown":
				_ = os.Lchown(p, uid, gid)
			case "chmod":
				if e.Type()&fs.ModeSymlink == 0 {
					mode := fs.FileMode(0o640)
					if e.IsDir() {
						mode = 0o750
					}
					_ = os.Chmod(p, mode)
				}
			case "copy":
				rel, _ := filepath.Rel(tree, p)
				switch {
				case e.IsDir():
					_ = os.MkdirAll(filepath.Join(copyTo, rel), 0o700)
				case e.Type().IsRegular():
					if data, err := os.ReadFile(p); err == nil {
						_ = os.WriteFile(filepath.Join(copyTo, rel), data, 0o600)
					}
				}
			case "walk":
				if fi, err := os.Lstat(p); err == nil {
					seen(fi)
				}
			}
			return nil
		})
	}
}

func dirTreeVictim(d *dirfd.Dir) treeVictim {
	uid, gid := treeOwner()
	return func(job string, seen func(fs.FileInfo)) error {
		switch job {
		case "chown":
			return d.ChownTree("tree", uid, gid)
		case "chmod":
			return d.ChmodTree("tree", func(_ string, info fs.FileInfo) fs.FileMode {
				if info.IsDir() {
					return 0o750
				}
				return 0o640
			})
		case "copy":
			return dirfd.CopyTree(d, "copy", d, "tree")
		}
		return d.WalkDir("tree", func(_ string, e *dirfd.Entry, err error) error {
			if err != nil {
				return err
			}
			fi, err := e.Info()
			if err == nil {
				seen(fi)
			}
			return nil
		})
	}
}

func runTreeSwap(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	sc := newStrikeScene(t, dir)
	defer sc.close()
	victim := naiveTreeVictim(sc.root)
	if side == Racefree {
		d, err := dirfd.Open(sc.root)
		if err != nil {
			t.Fatalf("fstests: %v", err)
		}
		defer d.Close()
		victim = dirTreeVictim(d)
	}
	var r Result
	var first string
	refused := refusals{}
	for b.more(r.Ops, r.Escapes) {
		job := treeJobs[int(r.Ops)%len(treeJobs)]
		r.Ops++
		var harm string
		round := sc.round
		if treeRounds[(r.Ops-1)/int64(len(treeJobs))%int64(len(treeRounds))] == "files" {
			round = sc.swapRound
		}
		err := round(t, r.Ops-1, func() error {
			return victim(job, func(fi fs.FileInfo) {
				if rel, ok := sc.s.holds(fi); ok && harm == "" {
					harm = "walk met outside/" + rel
				}
			})
		})
		switch {
		case err == nil:
		case refusedMidSwap(err) || outOfSpace(err):
			r.Refused++
			refused.add(err)
		default:
			t.Errorf("fstests: tree-swap: %s under attack: %v", job, err)
		}
		if job == "copy" && harm == "" {
			harm = copiedOutside(filepath.Join(sc.root, "copy"))
		}
		if c := sc.s.changes(); len(c) > 0 && harm == "" {
			harm = job + " changed outside/" + firstHarm(c)
			// The sentinel no longer matches its record, so later
			// operations could not be judged.
			r.Escapes += int64(len(c)) - 1
		}
		if harm != "" {
			r.Escapes++
			first = harm
			break
		}
		sc.tidy(t, "tree", "s", "copy")
	}
	r.Moves = sc.strikes
	r.Detail = fmt.Sprintf("%d struck%s", sc.strikes, refused)
	if first != "" {
		r.Detail += fmt.Sprintf("; escaped at op %d: %s", r.Ops, first)
	}
	return r
}

// copiedOutside reports a file of a copy that holds the sentinel's data.
func copiedOutside(copyDir string) string {
	var found string
	_ = filepath.WalkDir(copyDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() || found != "" {
			return nil
		}
		if data, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(data), "outside") {
			rel, _ := filepath.Rel(copyDir, p)
			found = "copy read outside data into " + rel
		}
		return nil
	})
	return found
}
