package linkat_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/linkat"
)

// scratch returns a directory and an O_PATH descriptor of it.
func scratch(t *testing.T) (string, int) {
	t.Helper()
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return dir, fd
}

func ino(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

func openFd(t *testing.T, path string, flags int) int {
	t.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// linkFdRoute says which route LinkFd takes in this process, or "" when it
// has none and must fail with ErrUnsupported.
func linkFdRoute() string {
	switch {
	case capability.Has(capability.LinkEmptyPath):
		return "AT_EMPTY_PATH"
	case capability.Has(capability.LinkProcFd):
		return "procfs"
	}
	return ""
}

// TestLinkFd runs in this process's profile; TestLinkFdProfiles reruns it
// with each route disabled.
func TestLinkFd(t *testing.T) {
	route := linkFdRoute()
	t.Logf("route: %q", route)
	dir, dirfd := scratch(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("f", filepath.Join(dir, "sym")); err != nil {
		t.Fatal(err)
	}
	if route == "" {
		err := linkat.LinkFd(openFd(t, filepath.Join(dir, "f"), unix.O_PATH), dirfd, "g")
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("without a route: %v, want ErrUnsupported", err)
		}
		return
	}

	t.Run("OPathFile", func(t *testing.T) {
		fd := openFd(t, filepath.Join(dir, "f"), unix.O_PATH)
		if err := linkat.LinkFd(fd, dirfd, "f2"); err != nil {
			t.Fatal(err)
		}
		if ino(t, filepath.Join(dir, "f2")) != ino(t, filepath.Join(dir, "f")) {
			t.Fatal("f2 is not f")
		}
	})
	t.Run("OPathSymlinkIsLinkedItself", func(t *testing.T) {
		fd := openFd(t, filepath.Join(dir, "sym"), unix.O_PATH|unix.O_NOFOLLOW)
		if err := linkat.LinkFd(fd, dirfd, "sym2"); err != nil {
			t.Fatal(err)
		}
		if ino(t, filepath.Join(dir, "sym2")) != ino(t, filepath.Join(dir, "sym")) {
			t.Fatal("sym2 is not the symlink sym")
		}
	})
	t.Run("RenamedAway", func(t *testing.T) {
		fd := openFd(t, filepath.Join(dir, "f"), unix.O_RDONLY)
		if err := os.Rename(filepath.Join(dir, "f"), filepath.Join(dir, "moved")); err != nil {
			t.Fatal(err)
		}
		defer os.Rename(filepath.Join(dir, "moved"), filepath.Join(dir, "f"))
		if err := linkat.LinkFd(fd, dirfd, "back"); err != nil {
			t.Fatal(err)
		}
		if ino(t, filepath.Join(dir, "back")) != ino(t, filepath.Join(dir, "moved")) {
			t.Fatal("back is not the moved file")
		}
	})
	t.Run("Tmpfile", func(t *testing.T) {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Skipf("no O_TMPFILE here: %v", err)
		}
		defer unix.Close(fd)
		if _, err := unix.Write(fd, []byte("tmp")); err != nil {
			t.Fatal(err)
		}
		if err := linkat.LinkFd(fd, dirfd, "tmp"); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "tmp")); err != nil || string(b) != "tmp" {
			t.Fatalf("tmp: %q, %v", b, err)
		}
	})
	t.Run("TmpfileExclCannotBeLinked", func(t *testing.T) {
		fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_EXCL|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Skipf("no O_TMPFILE here: %v", err)
		}
		defer unix.Close(fd)
		if err := linkat.LinkFd(fd, dirfd, "excl"); err != unix.ENOENT {
			t.Fatalf("O_TMPFILE|O_EXCL: %v, want ENOENT", err)
		}
	})
	t.Run("DeletedFileCannotBeRelinked", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "gone"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		fd := openFd(t, filepath.Join(dir, "gone"), unix.O_RDONLY)
		if err := os.Remove(filepath.Join(dir, "gone")); err != nil {
			t.Fatal(err)
		}
		if err := linkat.LinkFd(fd, dirfd, "revived"); err != unix.ENOENT {
			t.Fatalf("deleted file: %v, want ENOENT", err)
		}
	})
	t.Run("Directory", func(t *testing.T) {
		if err := linkat.LinkFd(dirfd, dirfd, "dirlink"); err != unix.EPERM {
			t.Fatalf("directory: %v, want EPERM", err)
		}
	})
	t.Run("Exists", func(t *testing.T) {
		fd := openFd(t, filepath.Join(dir, "f"), unix.O_PATH)
		if err := linkat.LinkFd(fd, dirfd, "sym"); err != unix.EEXIST {
			t.Fatalf("existing newname: %v, want EEXIST", err)
		}
	})
	t.Run("BadName", func(t *testing.T) {
		fd := openFd(t, filepath.Join(dir, "f"), unix.O_PATH)
		for _, name := range []string{"", "a\x00b"} {
			if err := linkat.LinkFd(fd, dirfd, name); err != unix.EINVAL {
				t.Errorf("newname %q: %v, want EINVAL", name, err)
			}
		}
	})
}

const profileEnv = "RACEFREE_TEST_LINKFD_PROFILE"

func TestLinkFdProfiles(t *testing.T) {
	if os.Getenv(profileEnv) != "" {
		t.Skip("already in a profile")
	}
	for _, disable := range []string{"link_empty_path", "link_empty_path,link_proc_fd"} {
		t.Run(disable, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestLinkFd$", "-test.v")
			cmd.Env = append(os.Environ(), profileEnv+"=1", capability.EnvDisable+"="+disable)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "PASS") {
				t.Fatalf("RACEFREE_DISABLE=%s: %v\n%s", disable, err, out)
			}
			t.Logf("%s", strings.SplitN(string(out), "\n", 3)[1])
		})
	}
}

// inheritedEnv makes the test binary the child of TestLinkFdOtherCredentials:
// it links descriptor 3, which its parent opened as root.
const inheritedEnv = "RACEFREE_TEST_LINKFD_INHERITED"

// TestLinkFdOtherCredentials gives an unprivileged process a descriptor
// opened under other credentials. AT_EMPTY_PATH refuses that with ENOENT
// although the capability probe (run with the child's own descriptor) said
// it works; LinkFd must then take the procfs route for that call.
func TestLinkFdOtherCredentials(t *testing.T) {
	if dir := os.Getenv(inheritedEnv); dir != "" {
		linkInherited(t, dir)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to hand a descriptor to uid 65534")
	}
	if !capability.Has(capability.LinkEmptyPath) || !capability.Has(capability.LinkProcFd) {
		t.Skip("needs both routes")
	}
	dir, err := os.MkdirTemp("", "racefree-linkfd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Owned by the child, so that fs.protected_hardlinks lets it link.
	if err := os.Chown(f, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	file, err := os.OpenFile(f, unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	cmd := exec.Command(attackerBinary(t), "-test.run=^TestLinkFdOtherCredentials$", "-test.v")
	cmd.Env = append(os.Environ(), inheritedEnv+"="+dir)
	cmd.ExtraFiles = []*os.File{file}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "--- SKIP") {
		t.Skipf("child skipped:\n%s", out)
	}
	if ino(t, filepath.Join(dir, "linked")) != ino(t, f) {
		t.Fatal("linked is not f")
	}
}

func linkInherited(t *testing.T, dir string) {
	const fd = 3
	dirfd := openFd(t, dir, unix.O_PATH|unix.O_DIRECTORY)
	// The control: the kernel refuses AT_EMPTY_PATH for this descriptor,
	// so the success below came from the procfs route.
	if err := unix.Linkat(fd, "", dirfd, "direct", unix.AT_EMPTY_PATH); err != unix.ENOENT {
		t.Fatalf("linkat(AT_EMPTY_PATH) of a descriptor opened by root: %v, want ENOENT", err)
	}
	if !capability.Has(capability.LinkEmptyPath) {
		// Before Linux 6.10 an unprivileged process cannot use
		// AT_EMPTY_PATH at all, so there is no fallback to exercise.
		t.Skip("linkat(AT_EMPTY_PATH) is not available to uid 65534 on this kernel")
	}
	if err := linkat.LinkFd(fd, dirfd, "linked"); err != nil {
		t.Fatal(err)
	}
}
