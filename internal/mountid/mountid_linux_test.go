package mountid

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mountChildEnv marks the child of TestBindMountOfSameFilesystemDiffers,
// which runs in a mount namespace of its own so that nothing it mounts can
// outlive it.
const mountChildEnv = "RACEFREE_MOUNTID_CHILD"

// TestBindMountOfSameFilesystemDiffers: a directory bind-mounted from the
// same filesystem has the same st_dev as its parent, and only the mount ID
// tells it apart (what NoXDev and learned capabilities need). Of and At
// agree, and the fdinfo route finds the same mount ID as statx.
func TestBindMountOfSameFilesystemDiffers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("not root (euid %d): cannot bind-mount; run the tests as root to cover mounts", os.Geteuid())
	}
	if os.Getenv(mountChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.count=1", "-test.v", "-test.run=^TestBindMountOfSameFilesystemDiffers$")
		cmd.Env = append(os.Environ(), mountChildEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / private in it
		out, err := cmd.CombinedOutput()
		t.Logf("child in a private mount namespace:\n%s", out)
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		return
	}
	dir := t.TempDir()
	for _, d := range []string{"src", "plain", "bind"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Mount(filepath.Join(dir, "src"), filepath.Join(dir, "bind"), "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	defer unix.Unmount(filepath.Join(dir, "bind"), unix.MNT_DETACH)

	open := func(name string) int {
		fd, err := unix.Open(filepath.Join(dir, name), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	top, plain, bind := open("."), open("plain"), open("bind")
	var st1, st2 unix.Stat_t
	if unix.Fstat(top, &st1) != nil || unix.Fstat(bind, &st2) != nil || st1.Dev != st2.Dev {
		t.Fatalf("the bind mount is on another device (%d, %d): the test proves nothing", st1.Dev, st2.Dev)
	}
	idOf := func(fd int) ID {
		id, err := Of(fd)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	idAt := func(name string) ID {
		id, err := At(top, name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	t.Logf("top: %v, plain: %v, bind: %v", idOf(top), idOf(plain), idOf(bind))
	if idOf(top) != idOf(plain) || idAt("plain") != idOf(top) {
		t.Errorf("a plain directory is on another mount than its parent: %v, %v, %v", idOf(top), idOf(plain), idAt("plain"))
	}
	if idOf(bind) == idOf(top) || idAt("bind") != idOf(bind) {
		t.Errorf("the bind mount is not told apart: top %v, Of(bind) %v, At(top, bind) %v", idOf(top), idOf(bind), idAt("bind"))
	}

	// The fdinfo route, used where statx has no mount ID, sees the same
	// mounts as statx's reusable mount ID.
	for _, fd := range []int{top, bind} {
		var stx unix.Statx_t
		if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil || stx.Mask&unix.STATX_MNT_ID == 0 {
			t.Skipf("no STATX_MNT_ID to compare with (%v)", err)
		}
		id, err := fromFdinfo(fd)
		if err != nil || id != (ID{kindMount, stx.Mnt_id}) {
			t.Errorf("fromFdinfo = %v, %v; statx says mount ID %d", id, err, stx.Mnt_id)
		}
	}
}

// TestParseFdinfo reads the mnt_id line, refuses a file without one, and
// refuses a malformed number rather than guess.
func TestParseFdinfo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ID
		ok   bool
	}{
		{"pos:\t0\nflags:\t02100000\nmnt_id:\t27\nino:\t1234\n", ID{kindMount, 27}, true},
		{"mnt_id: 4294967296\n", ID{kindMount, 1 << 32}, true},
		{"pos:\t0\nflags:\t0\n", ID{}, false},
		{"mnt_id:\tx27\n", ID{}, false},
	} {
		got, err := parseFdinfo(bufio.NewScanner(strings.NewReader(tc.in)))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseFdinfo(%q) = %v, %v; want %v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}
