//go:build unix

package fstests

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/eintr"
)

// The /tmp-cleaner race (tmpwatch and friends; Rust's remove_dir_all,
// CVE-2022-21658): a privileged cleaner removes a tree that another user
// can write to. That user exchanges a directory of the tree, tree/d, with a
// symlink to the sentinel that it keeps beside the tree, s. A cleaner that
// decides by lstat and then lists and unlinks by path follows the symlink
// whenever the exchange lands between its look and its act, and removes
// the sentinel's files. The directory holds the same names as the sentinel
// (f, secret, sub/g), as an attacker who knows its target would arrange, so
// that every "rm d/f" that resolves d a moment too late hits.
//
// One victim operation removes the whole tree, rebuilt before each one
// with nothing moving. The attacker is armed on d and strikes when the
// victim opens d to list it (see striker): the moment a path-based cleaner
// has decided, by its lstat, that d is a directory, and is about to remove
// what it lists by paths through d. It swaps d and s then, once, and is
// disarmed when the removal is over, so every check of the sentinel sees
// a still scene. The symlink is outside the tree so that no cleaner
// removes it before the strike. Its target alternates between absolute and
// relative ("../../outside", as seen from tree/d).

func init() {
	register(attack{name: "cleaner", order: 20, run: runCleaner})
}

func runCleaner(t *testing.T, dir string, side Side, b *budget) Result {
	t.Helper()
	sc := newStrikeScene(t, dir)
	defer sc.close()
	remove := func() error { naiveRemoveAll(filepath.Join(sc.root, "tree")); return nil }
	if side == Racefree {
		d, err := dirfd.Open(sc.root)
		if err != nil {
			t.Fatalf("fstests: %v", err)
		}
		defer d.Close()
		remove = func() error { return d.RemoveAll("tree") }
	}
	var r Result
	var first string
	refused := refusals{}
	for b.more(r.Ops, r.Escapes) {
		r.Ops++
		err := sc.round(t, r.Ops-1, remove)
		switch {
		case err == nil:
		case refusedMidSwap(err) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EISDIR):
			// ENOTEMPTY, EISDIR: the name kept turning from
			// directory to symlink and back under RemoveAll, which
			// gave up after a few rounds rather than chase it.
			r.Refused++
			refused.add(err)
		case outOfSpace(err):
			// A small test image full for a moment.
			r.Refused++
			refused.add(err)
		default:
			t.Errorf("fstests: cleaner: RemoveAll under attack: %v", err)
		}
		if c := sc.s.changes(); len(c) > 0 {
			// The sentinel no longer matches its record, so later
			// operations could not be judged: stop here.
			r.Escapes += int64(len(c))
			first = firstHarm(c)
			break
		}
		sc.tidy(t, "tree", "s")
	}
	r.Moves = sc.strikes
	r.Detail = fmt.Sprintf("%d struck%s", sc.strikes, refused)
	if first != "" {
		r.Detail += fmt.Sprintf("; escaped at op %d: outside/%s", r.Ops, first)
	}
	return r
}

// cleanerFillers is how many files d holds besides the sentinel's names,
// listed before them ("00", "01", ...): the time a cleaner spends on them
// after opening d is the attacker's time to strike on a busy machine,
// where its wake-up can take longer than a cleaner needs for a few names.
const cleanerFillers = 16

// buildCleanerTree makes name in rfd holding d, which holds fillers and
// the sentinel's names (f, secret, sub/g), and the attacker's s beside
// name, a symlink to target. It works relative to rfd, so that each step
// costs a lookup or two where lookups are slow (FUSE).
func buildCleanerTree(rfd int, name, target string) error {
	d := name + "/d"
	file := func(p string) func() error {
		return func() error {
			fd, err := unix.Openat(rfd, p, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o666)
			if err == nil {
				unix.Close(fd)
			}
			return err
		}
	}
	steps := []func() error{
		func() error { return unix.Mkdirat(rfd, name, 0o777) },
		func() error { return unix.Mkdirat(rfd, d, 0o777) },
	}
	for i := range cleanerFillers {
		steps = append(steps, file(fmt.Sprintf("%s/%02d", d, i)))
	}
	steps = append(steps,
		file(d+"/f"),
		file(d+"/secret"),
		func() error { return unix.Mkdirat(rfd, d+"/sub", 0o777) },
		file(d+"/sub/g"),
		func() error { return unix.Symlinkat(target, rfd, "s") },
	)
	for _, step := range steps {
		if err := eintr.Retry(step); err != nil {
			return fmt.Errorf("building the tree: %w", err)
		}
	}
	return nil
}

// naiveRemoveAll is the classic path-based cleaner (pre-fix
// remove_dir_all, a shell tmp cleaner): lstat to decide, then list,
// recurse and remove by path. Each path is resolved afresh, so a directory
// swapped for a symlink after the lstat is followed.
func naiveRemoveAll(path string) {
	fi, err := os.Lstat(path)
	if err != nil {
		return
	}
	if fi.IsDir() {
		ents, _ := os.ReadDir(path)
		for _, e := range ents {
			naiveRemoveAll(filepath.Join(path, e.Name()))
		}
	}
	_ = os.Remove(path)
}

// refusedMidSwap reports whether err is an answer the attack may provoke
// from an operation that stayed inside: a refusal (ErrEscape, ErrChanged),
// or a name that, at the instant it was looked up, was missing (a
// rotation's gap), not a directory, or a symlink that must not be followed.
func refusedMidSwap(err error) bool {
	return errors.Is(err, dirfd.ErrEscape) || errors.Is(err, dirfd.ErrChanged) ||
		errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// refusals counts refused operations by what refused them.
type refusals map[string]int

func (rs refusals) add(err error) {
	var errno unix.Errno
	switch {
	case errors.Is(err, dirfd.ErrEscape):
		rs["ErrEscape"]++
	case errors.Is(err, dirfd.ErrChanged):
		rs["ErrChanged"]++
	case errors.As(err, &errno):
		rs[unix.ErrnoName(errno)]++
	default:
		rs[err.Error()]++
	}
}

// String is "; refused: EISDIR 3, ErrEscape 12", or "" when none were.
func (rs refusals) String() string {
	if len(rs) == 0 {
		return ""
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(rs)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, rs[k]))
	}
	return "; refused: " + strings.Join(parts, ", ")
}

// firstHarm picks the change of the sentinel to show, in a few words: the
// first one to an object in it, rather than to its top directory, which
// only says that something in it was created or removed.
func firstHarm(changes []string) string {
	c := changes[0]
	for _, ch := range changes {
		if !strings.HasPrefix(ch, ".:") {
			c = ch
			break
		}
	}
	// "secret: changed from ... to ...": the name and what befell it.
	if i := strings.Index(c, ": changed from"); i >= 0 {
		c = c[:i] + ": changed"
	}
	return c
}
