//go:build unix

package fstests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// devIno identifies a filesystem object.
type devIno struct{ dev, ino uint64 }

func idOf(fi fs.FileInfo) (devIno, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return devIno{}, false
	}
	return devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}, true
}

// sentinel is the tree outside the victim's root that the attacker points
// the victim at. Nothing may open, create, change or remove anything in
// it; its root directory's name is "outside" in the scene's directory.
type sentinel struct {
	dir  string
	ids  map[devIno]string // every object of the tree, by identity
	snap map[string]string // relative name -> what must not change
}

// newSentinel makes dir/outside holding a few files (f, secret, sub/g,
// and a symlink), read and writable by anyone so that only racefree, not
// permissions, stands between a victim and the tree, and records it.
func newSentinel(t *testing.T, dir string) *sentinel {
	t.Helper()
	s := &sentinel{dir: filepath.Join(dir, "outside")}
	for _, step := range []func() error{
		func() error { return os.Mkdir(s.dir, 0o777) },
		func() error { return os.Mkdir(filepath.Join(s.dir, "sub"), 0o777) },
		func() error { return os.WriteFile(filepath.Join(s.dir, "f"), []byte("outside f\n"), 0o666) },
		func() error { return os.WriteFile(filepath.Join(s.dir, "secret"), []byte("outside secret\n"), 0o666) },
		func() error { return os.WriteFile(filepath.Join(s.dir, "sub", "g"), []byte("outside g\n"), 0o666) },
		func() error { return os.Symlink("f", filepath.Join(s.dir, "l")) },
		// umask may have cut the modes.
		func() error { return chmodTree(s.dir, 0o777, 0o666) },
	} {
		if err := step(); err != nil {
			t.Fatalf("fstests: sentinel: %v", err)
		}
	}
	s.ids = map[devIno]string{}
	snap, err := s.record(s.ids)
	if err != nil {
		t.Fatalf("fstests: sentinel: %v", err)
	}
	s.snap = snap
	return s
}

func chmodTree(dir string, dirMode, fileMode os.FileMode) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case e.Type()&fs.ModeSymlink != 0:
			return nil
		case e.IsDir():
			return os.Chmod(p, dirMode)
		default:
			return os.Chmod(p, fileMode)
		}
	})
}

// record describes every object of the tree: type, mode, owner, size,
// link count, modification and change times, link target. The change time
// catches chmod and chown to the same values too. Access times are left
// out: reading the sentinel is detected through descriptors instead.
func (s *sentinel) record(ids map[devIno]string) (map[string]string, error) {
	snap := map[string]string{}
	err := filepath.WalkDir(s.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := eintr.Retry(func() error { return unix.Lstat(p, &st) }); err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.dir, p)
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d size=%d nlink=%d ino=%d mtime=%d ctime=%d",
			st.Mode, st.Uid, st.Gid, st.Size, st.Nlink, st.Ino, st.Mtim.Nano(), st.Ctim.Nano())
		if e.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		}
		snap[rel] = desc
		if ids != nil {
			ids[devIno{dev: uint64(st.Dev), ino: uint64(st.Ino)}] = rel
		}
		return nil
	})
	return snap, err
}

// holds reports whether fi, from a victim's descriptor or lookup, is an
// object of the sentinel tree, and which.
func (s *sentinel) holds(fi fs.FileInfo) (string, bool) {
	id, ok := idOf(fi)
	if !ok {
		return "", false
	}
	rel, ok := s.ids[id]
	return rel, ok
}

// changes lists every difference between the tree now and as made: each
// is an escape. Call it once the attacker has stopped.
func (s *sentinel) changes() []string {
	now, err := s.record(nil)
	if err != nil {
		return []string{"sentinel tree unreadable: " + err.Error()}
	}
	var out []string
	for rel, was := range s.snap {
		switch is, ok := now[rel]; {
		case !ok:
			out = append(out, rel+": removed")
		case is != was:
			out = append(out, fmt.Sprintf("%s: changed from %q to %q", rel, was, is))
		}
	}
	for rel := range now {
		if _, ok := s.snap[rel]; !ok {
			out = append(out, rel+": created")
		}
	}
	sort.Strings(out)
	return out
}
