package staging

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// parentFd opens dir as O_PATH, as dirfd hands parents to this package.
func parentFd(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestCreate pins S1 on the happy path: a fresh, empty 0700 directory of
// ours under the kind's prefix and 128 random bits, whatever the umask, and
// entry names unique to the Dir value.
func TestCreate(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	p := parentFd(t, dir)
	for _, kind := range []Kind{Stage, Aside, Probe} {
		s, err := Create(p, kind)
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := KindOf(s.Name); !ok || k != kind {
			t.Errorf("KindOf(%q) = %v, %v; want %v", s.Name, k, ok, kind)
		}
		fi, err := os.Lstat(filepath.Join(dir, s.Name))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, %v", s.Name, fi, err)
		}
		a, b := s.NewName("file"), s.NewName("file")
		if a == b || !Stage.OwnName(a) || !strings.HasPrefix(a, "file-") {
			t.Errorf("NewName: %q, %q", a, b)
		}
		s2, err := Create(p, kind)
		if err != nil {
			t.Fatal(err)
		}
		if s2.NewName("file") == a {
			t.Errorf("two Dirs share an entry name")
		}
		for _, x := range []*Dir{s, s2} {
			if err := x.Remove(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if left := names(t, dir); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestVerifyRefuses plays the exchange between mkdirat and openat by
// handing verify what an attacker could have put under the name: each must
// be refused as not ours (so Create tries a new name and leaves it alone),
// and nothing in it touched.
func TestVerifyRefuses(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name  string
		setup func(p string) error
	}{
		{"victim's private directory holding a file", func(p string) error {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(p, "precious"), []byte("x"), 0o600)
		}},
		{"victim's private directory holding only a subdirectory", func(p string) error {
			return os.MkdirAll(filepath.Join(p, "sub"), 0o700)
		}},
		{"a directory open to the group", func(p string) error {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			return os.Chmod(p, 0o750)
		}},
		{"a directory with the sticky bit", func(p string) error {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			return os.Chmod(p, 0o700|os.ModeSticky)
		}},
		{"an empty private directory made before ours", func(p string) error {
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			time.Sleep(2 * bornSlack)
			return nil
		}},
		{"another user's empty private directory", func(p string) error {
			if os.Geteuid() != 0 {
				return errSkip
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
			return os.Chown(p, 65534, 65534)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			if err := c.setup(p); errors.Is(err, errSkip) {
				t.Skip("needs root to make another user's directory")
			} else if err != nil {
				t.Fatal(err)
			}
			before := names(t, p)
			fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			s := &Dir{Name: filepath.Base(p), Fd: fd}
			err = s.verify(time.Now())
			if c.name == "an empty private directory made before ours" {
				var stx unix.Statx_t
				if unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_BTIME, &stx) != nil || stx.Mask&unix.STATX_BTIME == 0 {
					t.Skip("this filesystem records no birth times")
				}
			}
			if !errors.Is(err, errNotOurs) {
				t.Fatalf("verify = %v, want errNotOurs", err)
			}
			if after := names(t, p); len(after) != len(before) {
				t.Errorf("contents changed: %v -> %v", before, after)
			}
		})
	}
}

var errSkip = errors.New("skip")

// TestRemoveByIdentity: Remove removes only the directory it made, and
// only when empty; a directory someone put under the name is left alone,
// with its contents, and so is ours where it was moved.
func TestRemoveByIdentity(t *testing.T) {
	dir := t.TempDir()
	p := parentFd(t, dir)

	s, err := Create(p, Stage)
	if err != nil {
		t.Fatal(err)
	}
	staged := s.NewName("link")
	if err := unix.Symlinkat("x", s.Fd, staged); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(); !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		t.Fatalf("Remove of a stage that is not empty = %v, want ENOTEMPTY", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, s.Name, staged)); err != nil {
		t.Fatalf("Remove emptied the stage: %v", err)
	}

	s, err = Create(p, Stage)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, s.Name), filepath.Join(dir, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, s.Name), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(); err == nil {
		t.Fatal("removed a directory that is not the one it made")
	}
	for _, n := range []string{s.Name, "moved"} {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
}

// TestOwnName pins which names RemoveStale may take for racefree's own.
func TestOwnName(t *testing.T) {
	const nonce = "0123456789abcdef"
	for _, c := range []struct {
		kind Kind
		name string
		want bool
	}{
		{Stage, "file-" + nonce + "-1", true},
		{Stage, "link-" + nonce + "-42", true},
		{Stage, "tree-" + nonce + "-7", true},
		{Stage, "object-" + nonce + "-1", false},
		{Stage, "file-" + nonce, false},
		{Stage, "file-" + nonce + "-", false},
		{Stage, "file-" + nonce + "-x", false},
		{Stage, "file-0123-1", false},
		{Stage, "precious", false},
		{Aside, "object-" + nonce + "-3", true},
		{Aside, "file-" + nonce + "-3", false},
		{Probe, "a", true},
		{Probe, "t", true},
		{Probe, "e", false},
	} {
		if got := c.kind.OwnName(c.name); got != c.want {
			t.Errorf("%v.OwnName(%q) = %v, want %v", c.kind.Prefix(), c.name, got, c.want)
		}
	}
	for _, c := range []struct {
		name string
		kind Kind
		ok   bool
	}{
		{".racefree-0123456789abcdef0123456789abcdef", Stage, true},
		{".racefree-aside-0123456789abcdef0123456789abcdef", Aside, true},
		{".racefree-probe-0123456789abcdef0123456789abcdef", Probe, true},
		{".racefree-conflict-0123", Stage, false},
		{".racefree-lock", Stage, false},
		{".racefree-0123", Stage, false},
	} {
		if k, ok := KindOf(c.name); ok != c.ok || ok && k != c.kind {
			t.Errorf("KindOf(%q) = %v, %v", c.name, k, ok)
		}
	}
}

// TestCache pins S3: one directory per parent and kind, reused; removed
// at Close, or at the last Release after Close; at most MaxCached kept.
func TestCache(t *testing.T) {
	dir := t.TempDir()
	p := parentFd(t, dir)
	var c Cache
	a, err := c.Acquire(p, Stage)
	if err != nil {
		t.Fatal(err)
	}
	c.Release(a)
	b, err := c.Acquire(p, Stage)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("a second Acquire made a new stage")
	}
	aside, err := c.Acquire(p, Aside)
	if err != nil {
		t.Fatal(err)
	}
	if aside == b {
		t.Errorf("one directory for two kinds")
	}
	c.Release(aside)
	if n := len(names(t, dir)); n != 2 {
		t.Errorf("%d directories, want 2", n)
	}
	if !Live(uint64(b.st.Dev), b.st.Ino) {
		t.Errorf("a kept stage is not live")
	}
	// b is still in use: Close removes the other now, b at its Release.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != 1 || got[0] != b.Name {
		t.Errorf("after Close, with one in use: %v", got)
	}
	c.Release(b)
	if got := names(t, dir); len(got) != 0 {
		t.Errorf("after the last Release: %v", got)
	}
	if Live(uint64(b.st.Dev), b.st.Ino) {
		t.Errorf("a removed stage is still live")
	}
}

// TestCacheBound: a Dir writing into many directories keeps at most
// MaxCached stages, evicting the least recently used.
func TestCacheBound(t *testing.T) {
	dir := t.TempDir()
	var c Cache
	defer c.Close()
	for i := range MaxCached + 3 {
		sub := filepath.Join(dir, string(rune('a'+i)))
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := c.Do(parentFd(t, sub), Stage, func(*Dir) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	kept := 0
	for i := range MaxCached + 3 {
		kept += len(names(t, filepath.Join(dir, string(rune('a'+i)))))
	}
	if kept != MaxCached {
		t.Errorf("%d stages kept, want %d", kept, MaxCached)
	}
}

// TestCacheGone: another user who may write a parent without the sticky
// bit may remove our empty stage; the next use notices and makes another.
func TestCacheGone(t *testing.T) {
	dir := t.TempDir()
	p := parentFd(t, dir)
	var c Cache
	defer c.Close()
	var first *Dir
	if err := c.Do(p, Stage, func(s *Dir) error { first = s; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, first.Name)); err != nil {
		t.Fatal(err)
	}
	calls := 0
	err := c.Do(p, Stage, func(s *Dir) error {
		calls++
		return unix.Symlinkat("x", s.Fd, s.NewName("link"))
	})
	if err != nil || calls != 2 {
		t.Fatalf("Do after the stage was removed: %v after %d calls", err, calls)
	}
}

// TestEuidCacheAfterVisit plays a privileged daemon that acts as a user for
// a while (seteuid(user) ... seteuid(0)): afterwards a stage owned by that
// user must not pass for ours.
func TestEuidCacheAfterVisit(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change the effective uid")
	}
	const user = 65534
	if !ownedByUs(0) {
		t.Fatal("root's stage not accepted")
	}
	if err := syscall.Setresuid(-1, user, -1); err != nil {
		t.Fatal(err)
	}
	ours := ownedByUs(user)
	if err := syscall.Setresuid(-1, 0, -1); err != nil {
		t.Fatal(err)
	}
	if !ours {
		t.Fatal("while acting as the user, the user's stage was not accepted")
	}
	if ownedByUs(user) {
		t.Fatal("back as root, a stage owned by the user passed for ours")
	}
	if got := knownEuid.Load(); got != 0 {
		t.Fatalf("cached euid %d, want 0", got)
	}
}

// TestDescriptorsCloseOnExec pins G4 for the descriptors a private
// directory holds: its own and its parent's, readable or duplicated.
func TestDescriptorsCloseOnExec(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o755, 0o311} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		s, err := Create(parentFd(t, dir), Stage)
		if err != nil {
			t.Fatal(err)
		}
		for what, fd := range map[string]int{"the directory": s.Fd, "its parent": s.Parent} {
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if err != nil || flags&unix.FD_CLOEXEC == 0 {
				t.Errorf("parent mode %o: %s's descriptor is not close-on-exec (%#x, %v)", mode, what, flags, err)
			}
		}
		if err := s.Remove(); err != nil {
			t.Fatal(err)
		}
	}
}
