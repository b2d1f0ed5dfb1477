//go:build unix

package fstests

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// strikeScene is the scene of the attacks whose attacker strikes as the
// victim opens root/tree/d (cleaner, tree-swap): the sentinel, root and a
// descriptor of it to build with, and the striker.
type strikeScene struct {
	s       *sentinel
	root    string
	rfd     int
	st      *striker
	strikes int64 // rounds in which the attacker swapped
}

func newStrikeScene(t *testing.T, dir string) *strikeScene {
	t.Helper()
	sc := &strikeScene{s: newSentinel(t, dir), root: filepath.Join(dir, "root")}
	if err := os.Mkdir(sc.root, 0o777); err != nil {
		t.Fatalf("fstests: %v", err)
	}
	var err error
	sc.rfd, err = eintr.Retry1(func() (int, error) {
		return unix.Open(sc.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		t.Fatalf("fstests: %v", err)
	}
	sc.st = newStriker(t)
	return sc
}

func (sc *strikeScene) close() {
	sc.st.close()
	unix.Close(sc.rfd)
}

// round builds root/tree afresh (see buildCleanerTree), with the
// attacker's s leading to the sentinel by an absolute name in even rounds
// and a relative one in odd rounds, and runs victim with the attacker
// armed on tree/d. It returns victim's error, or the filesystem being full
// while building.
func (sc *strikeScene) round(t *testing.T, n int64, victim func() error) error {
	t.Helper()
	target := sc.s.dir
	if n%2 == 1 {
		target = "../../outside"
	}
	if err := buildCleanerTree(sc.rfd, "tree", target); err != nil {
		if outOfSpace(err) {
			return err
		}
		t.Fatalf("fstests: %v", err)
	}
	round := sc.st.arm(t, sc.root, "tree/d", "s")
	err := victim()
	if sc.st.halt(round) {
		sc.strikes++
	}
	return err
}

// swapRound is round with the attacker aiming at the files instead: tree/d
// also holds lf and ls, symlinks to the sentinel's f and secret (by
// absolute names in even rounds, relative ones in odd rounds), and the
// attacker exchanges tree/d/f with lf and tree/d/secret with ls, over and
// over, while victim runs. A job that lists f or secret as a file and then
// opens, reads or changes it by a name that follows a final symlink
// reaches the sentinel.
func (sc *strikeScene) swapRound(t *testing.T, n int64, victim func() error) error {
	t.Helper()
	pairs := [][2]string{{"f", "lf"}, {"secret", "ls"}}
	err := buildCleanerTree(sc.rfd, "tree", sc.s.dir)
	for _, pair := range pairs {
		target := filepath.Join(sc.s.dir, pair[0])
		if n%2 == 1 {
			target = "../../../outside/" + pair[0]
		}
		if err == nil {
			err = eintr.Retry(func() error { return unix.Symlinkat(target, sc.rfd, "tree/d/"+pair[1]) })
		}
	}
	if err != nil {
		if outOfSpace(err) {
			return err
		}
		t.Fatalf("fstests: %v", err)
	}
	var sws []*swapper
	for _, pair := range pairs {
		sw := startSwapper(filepath.Join(sc.root, "tree", "d"), pair[0], pair[1])
		for sw.swaps.Load()+sw.fails.Load() == 0 {
			runtime.Gosched()
		}
		sws = append(sws, sw)
	}
	err = victim()
	struck := false
	for _, sw := range sws {
		sw.halt()
		struck = struck || sw.swaps.Load() > 0
	}
	if struck {
		sc.strikes++
	}
	return err
}

// tidy removes what a round left in root (the attacker's s, whichever
// object it is now, among it), with nothing moving, opening up
// directories a chmod closed.
func (sc *strikeScene) tidy(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		p := filepath.Join(sc.root, name)
		err := os.RemoveAll(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			_ = walkChmodDirs(p)
			err = os.RemoveAll(p)
		}
		if err != nil {
			t.Fatalf("fstests: %v", err)
		}
	}
}
