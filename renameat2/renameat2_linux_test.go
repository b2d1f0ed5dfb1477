package renameat2_test

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/renameat2"
)

// profileEnv marks a child started by TestProfiles, so that the emulations
// (chosen once per process from RACEFREE_DISABLE) are exercised too.
const profileEnv = "RACEFREE_RENAMEAT2_CHILD"

// TestProfiles re-runs this package's tests with the kernel flags disabled.
func TestProfiles(t *testing.T) {
	if os.Getenv(profileEnv) != "" {
		t.Skip("already a profile child")
	}
	for _, profile := range []string{"rename_noreplace,rename_exchange,rename_whiteout", "all"} {
		cmd := exec.Command(os.Args[0], "-test.count=1", "-test.run=^Test[^P]")
		cmd.Env = append(os.Environ(), profileEnv+"=1", "RACEFREE_DISABLE="+profile)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("RACEFREE_DISABLE=%s: %v\n%s", profile, err, out)
		}
	}
}

func emulated() bool { return os.Getenv("RACEFREE_DISABLE") != "" }

func fixture(t *testing.T) (dir string, fd int) {
	t.Helper()
	dir = t.TempDir()
	for name, content := range map[string]string{"a": "A", "b": "B"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return dir, fd
}

func content(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func TestNoReplaceRefusesExistingName(t *testing.T) {
	dir, fd := fixture(t)
	err := renameat2.Rename(fd, "a", fd, "b", renameat2.NoReplace)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("got %v, want EEXIST", err)
	}
	if content(t, dir, "a") != "A" || content(t, dir, "b") != "B" {
		t.Fatal("a failed no-replace rename changed something")
	}
}

func TestNoReplaceMovesToNewName(t *testing.T) {
	dir, fd := fixture(t)
	if err := renameat2.Rename(fd, "a", fd, "c", renameat2.NoReplace); err != nil {
		t.Fatal(err)
	}
	if content(t, dir, "c") != "A" {
		t.Fatal("c does not hold a's content")
	}
	if _, err := os.Lstat(filepath.Join(dir, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old name still there: %v", err)
	}
}

func TestNoReplaceOfDirectory(t *testing.T) {
	dir, fd := fixture(t)
	err := renameat2.Rename(fd, "d", fd, "e", renameat2.NoReplace)
	if emulated() {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("emulated no-replace of a directory: got %v, want ErrUnsupported", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "e")); err != nil || !fi.IsDir() {
		t.Fatal("directory not moved")
	}
}

func TestStrictRefusesEmulation(t *testing.T) {
	dir, fd := fixture(t)
	err := renameat2.Rename(fd, "a", fd, "c", renameat2.NoReplace|renameat2.Strict)
	if emulated() {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("got %v, want ErrUnsupported", err)
		}
		if content(t, dir, "a") != "A" {
			t.Fatal("refused rename changed a")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestExchangeSwapsOrIsUnsupported(t *testing.T) {
	dir, fd := fixture(t)
	err := renameat2.Rename(fd, "a", fd, "b", renameat2.Exchange)
	if emulated() {
		// Never faked with two renames: a reader would see a gap.
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("got %v, want ErrUnsupported", err)
		}
		if content(t, dir, "a") != "A" || content(t, dir, "b") != "B" {
			t.Fatal("refused exchange changed something")
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if content(t, dir, "a") != "B" || content(t, dir, "b") != "A" {
		t.Fatal("not swapped")
	}
}

func TestExchangeWithMissingName(t *testing.T) {
	if emulated() {
		t.Skip("exchange is unsupported in this profile")
	}
	_, fd := fixture(t)
	if err := renameat2.Rename(fd, "a", fd, "missing", renameat2.Exchange); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want ENOENT", err)
	}
}

func TestInvalidFlagCombinations(t *testing.T) {
	_, fd := fixture(t)
	for _, f := range []renameat2.Flags{
		renameat2.Exchange | renameat2.NoReplace,
		renameat2.Exchange | renameat2.Whiteout,
		1 << 5,
	} {
		if err := renameat2.Rename(fd, "a", fd, "b", f); err != syscall.EINVAL {
			t.Errorf("flags %#x: got %v, want EINVAL", f, err)
		}
	}
}

func TestPlainRename(t *testing.T) {
	dir, fd := fixture(t)
	if err := renameat2.Rename(fd, "a", fd, "b", 0); err != nil {
		t.Fatal(err)
	}
	if content(t, dir, "b") != "A" || !strings.HasPrefix(content(t, dir, "a"), "<") {
		t.Fatal("plain rename did not replace")
	}
}
