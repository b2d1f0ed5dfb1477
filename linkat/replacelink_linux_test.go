package linkat_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/staging"
	"github.com/racefree/racefree/linkat"
)

// linkDir makes a, b (different files), sym -> a and d/ in a scratch
// directory.
func linkDir(t *testing.T) (string, int) {
	t.Helper()
	dir, dirfd := scratch(t)
	for _, f := range []string{"a", "b"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("a", filepath.Join(dir, "sym")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, dirfd
}

func noLeftover(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), staging.Prefix) {
			t.Fatalf("staging leftover %s", e.Name())
		}
	}
}

// replaceLinkFuncs runs every case through the function and a Replacer.
var replaceLinkFuncs = map[string]func(t *testing.T, olddirfd int, oldname string, newdirfd int, newname string) error{
	"func": func(t *testing.T, olddirfd int, oldname string, newdirfd int, newname string) error {
		return linkat.ReplaceLink(olddirfd, oldname, newdirfd, newname)
	},
	"Replacer": func(t *testing.T, olddirfd int, oldname string, newdirfd int, newname string) error {
		r, err := linkat.NewReplacer(newdirfd)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := r.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
		// Twice: the stage must be empty again after the first.
		if err := r.ReplaceLink(olddirfd, oldname, newname); err != nil {
			return err
		}
		return r.ReplaceLink(olddirfd, oldname, newname)
	},
}

func TestReplaceLink(t *testing.T) {
	for how, replace := range replaceLinkFuncs {
		t.Run(how, func(t *testing.T) {
			t.Run("ReplacesFile", func(t *testing.T) {
				dir, dirfd := linkDir(t)
				if err := replace(t, dirfd, "a", dirfd, "b"); err != nil {
					t.Fatal(err)
				}
				if ino(t, filepath.Join(dir, "b")) != ino(t, filepath.Join(dir, "a")) {
					t.Fatal("b is not a link to a")
				}
				noLeftover(t, dir)
			})
			t.Run("CreatesMissing", func(t *testing.T) {
				dir, dirfd := linkDir(t)
				if err := replace(t, dirfd, "a", dirfd, "new"); err != nil {
					t.Fatal(err)
				}
				if ino(t, filepath.Join(dir, "new")) != ino(t, filepath.Join(dir, "a")) {
					t.Fatal("new is not a link to a")
				}
				noLeftover(t, dir)
			})
			t.Run("SameInodeLeavesNothing", func(t *testing.T) {
				dir, dirfd := linkDir(t)
				if err := os.Link(filepath.Join(dir, "a"), filepath.Join(dir, "a2")); err != nil {
					t.Fatal(err)
				}
				if err := replace(t, dirfd, "a", dirfd, "a2"); err != nil {
					t.Fatal(err)
				}
				if err := replace(t, dirfd, "a", dirfd, "a"); err != nil {
					t.Fatal(err)
				}
				var st unix.Stat_t
				if err := unix.Stat(filepath.Join(dir, "a"), &st); err != nil || st.Nlink != 2 {
					t.Fatalf("a has %d links (%v), want 2: a staged link was left somewhere", st.Nlink, err)
				}
				noLeftover(t, dir)
			})
			t.Run("SymlinkLinkedItself", func(t *testing.T) {
				dir, dirfd := linkDir(t)
				if err := replace(t, dirfd, "sym", dirfd, "b"); err != nil {
					t.Fatal(err)
				}
				if ino(t, filepath.Join(dir, "b")) != ino(t, filepath.Join(dir, "sym")) {
					t.Fatal("b is not a link to the symlink sym")
				}
			})
			t.Run("AcrossDirectories", func(t *testing.T) {
				dir, dirfd := linkDir(t)
				sub := openFd(t, filepath.Join(dir, "d"), unix.O_PATH|unix.O_DIRECTORY)
				if err := replace(t, dirfd, "a", sub, "a"); err != nil {
					t.Fatal(err)
				}
				if ino(t, filepath.Join(dir, "d", "a")) != ino(t, filepath.Join(dir, "a")) {
					t.Fatal("d/a is not a link to a")
				}
				noLeftover(t, filepath.Join(dir, "d"))
			})
			for _, c := range []struct {
				name     string
				old, new string
				want     error
			}{
				{"DirectoryCannotBeLinked", "d", "b", unix.EPERM},
				{"DirectoryNotReplaced", "a", "d", unix.EISDIR},
				{"MissingOld", "nothing", "b", unix.ENOENT},
				{"EmptyOld", "", "b", unix.EINVAL},
				{"EmptyNew", "a", "", unix.EINVAL},
				{"NulOld", "a\x00", "b", unix.EINVAL},
				{"NulNew", "a", "b\x00", unix.EINVAL},
			} {
				t.Run(c.name, func(t *testing.T) {
					dir, dirfd := linkDir(t)
					if err := replace(t, dirfd, c.old, dirfd, c.new); err != c.want {
						t.Fatalf("ReplaceLink(%q, %q): %v, want %v", c.old, c.new, err, c.want)
					}
					if b, err := os.ReadFile(filepath.Join(dir, "b")); err != nil || string(b) != "b" {
						t.Fatalf("b changed: %q, %v", b, err)
					}
					noLeftover(t, dir)
				})
			}
		})
	}
}
