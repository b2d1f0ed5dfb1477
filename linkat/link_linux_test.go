package linkat_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/linkat"
)

func TestLinkAndSymlink(t *testing.T) {
	dir, dirfd := scratch(t)
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := linkat.Symlink("f", dirfd, "sym"); err != nil {
		t.Fatal(err)
	}
	if err := linkat.Link(dirfd, "sym", dirfd, "hard-sym", 0); err != nil {
		t.Fatal(err)
	}
	if err := linkat.Link(dirfd, "sym", dirfd, "hard-f", unix.AT_SYMLINK_FOLLOW); err != nil {
		t.Fatal(err)
	}
	if ino(t, filepath.Join(dir, "hard-sym")) != ino(t, filepath.Join(dir, "sym")) {
		t.Error("without AT_SYMLINK_FOLLOW the symlink itself is linked")
	}
	if ino(t, filepath.Join(dir, "hard-f")) != ino(t, filepath.Join(dir, "f")) {
		t.Error("with AT_SYMLINK_FOLLOW the target is linked")
	}
	if capability.Has(capability.LinkEmptyPath) {
		fd := openFd(t, filepath.Join(dir, "f"), unix.O_PATH)
		if err := linkat.Link(fd, "", dirfd, "empty-path", unix.AT_EMPTY_PATH); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		old, new string
		flags    int
	}{
		{"", "x", 0}, {"f", "", 0}, {"f\x00", "x", 0}, {"f", "x\x00", 0}, {"", "", unix.AT_EMPTY_PATH},
	} {
		if err := linkat.Link(dirfd, c.old, dirfd, c.new, c.flags); err != unix.EINVAL {
			t.Errorf("Link(%q, %q, %#x): %v, want EINVAL", c.old, c.new, c.flags, err)
		}
	}
	for _, c := range [][2]string{{"", "x"}, {"f", ""}, {"a\x00", "x"}, {"f", "x\x00"}} {
		if err := linkat.Symlink(c[0], dirfd, c[1]); err != unix.EINVAL {
			t.Errorf("Symlink(%q, %q): %v, want EINVAL", c[0], c[1], err)
		}
	}
}
