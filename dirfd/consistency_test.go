//go:build unix

package dirfd_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/dirfd"
)

// TestConsistencyWithOS runs every (case, op) of the escape table whose
// Beneath expectation is not an escape twice: through a Dir, and with plain
// os calls on a twin tree built from the same spec. Where nothing escapes, a
// Dir must be indistinguishable from the path-based calls: same outcome
// (success, or the same errno) and the same resulting tree. The operations
// that only look up are also asked of openat2 itself on the Dir's tree.
func TestConsistencyWithOS(t *testing.T) {
	for _, c := range escapeCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for o := range numOps {
				if c.beneath[o] == dirfd.ErrEscape {
					continue
				}
				t.Run(o.String(), func(t *testing.T) {
					dirParent, path := c.fixture(t)
					twinParent, twinPath := c.fixture(t)

					d, err := dirfd.Open(dirParent+"/in", dirfd.Beneath())
					if err != nil {
						t.Fatal(err)
					}
					fi, dirErr := applyDir(d, o, path)
					d.Close()
					checkAgainstKernel(t, dirParent+"/in", modes[0], o, path, fi, dirErr)
					osErr := applyOS(twinParent+"/in", o, twinPath)

					if dc, oc := outcomeClass(dirErr), outcomeClass(osErr); dc != oc {
						t.Errorf("%v(%q): Dir gives %s (%v), os gives %s (%v)", o, c.path, dc, dirErr, oc, osErr)
					}
					dirTree := normalizeRoot(snapshot(t, dirParent), dirParent)
					twinTree := normalizeRoot(snapshot(t, twinParent), twinParent)
					if diff := cmp.Diff(twinTree, dirTree); diff != "" {
						t.Errorf("%v(%q): trees differ (-os +Dir):\n%s", o, c.path, diff)
					}
				})
			}
		})
	}
}

// applyOS is applyDir with path-based os calls on root+"/"+name. The name
// is appended as it is, not with filepath.Join, which would clean it:
// "ld/../top" must stay physical and a trailing slash must stay.
func applyOS(root string, o op, name string) error {
	full := name
	if !strings.HasPrefix(name, "/") {
		full = root + "/" + name
	}
	switch o {
	case opOpen:
		f, err := os.Open(full)
		if err != nil {
			return err
		}
		return f.Close()
	case opCreate:
		f, err := os.OpenFile(full, os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.Write([]byte("created"))
		return err
	case opStat:
		_, err := os.Stat(full)
		return err
	case opLstat:
		_, err := os.Lstat(full)
		return err
	case opMkdir:
		return os.Mkdir(full, 0o755)
	case opRemove:
		return os.Remove(full)
	case opSymlink:
		return os.Symlink("symlink-target", full)
	case opRenameFrom:
		return os.Rename(full, root+"/renamed")
	case opRenameTo:
		return os.Rename(root+"/src", full)
	}
	panic("unknown op")
}

// outcomeClass is "ok", the errno's name, or the error text for errors
// without an errno.
func outcomeClass(err error) string {
	if err == nil {
		return "ok"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return fmt.Sprintf("errno %d (%v)", int(errno), errno)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// normalizeRoot replaces the fixture's own directory in symlink targets by
// "$ROOT", so that two fixtures built from one spec compare equal.
func normalizeRoot(snap map[string]entry, root string) map[string]entry {
	out := make(map[string]entry, len(snap))
	for k, e := range snap {
		e.Target = strings.ReplaceAll(e.Target, root, "$ROOT")
		out[k] = e
	}
	return out
}
