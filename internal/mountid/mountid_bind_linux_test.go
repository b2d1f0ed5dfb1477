package mountid_test

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/mountid"
	"github.com/racefree/racefree/internal/reexec"
)

// TestBindMountOfSameFilesystemDiffers: a directory bind-mounted from the
// same filesystem has the same st_dev as its parent, and only the mount ID
// tells it apart (what NoXDev and learned capabilities need). Of and At
// agree, and the fdinfo route finds the same mount ID as statx.
func TestBindMountOfSameFilesystemDiffers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("not root (euid %d): cannot bind-mount; run the tests as root to cover mounts", os.Geteuid())
	}
	if !reexec.InMountNamespace(t) {
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
	idOf := func(fd int) mountid.ID {
		id, err := mountid.Of(fd)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	idAt := func(name string) mountid.ID {
		id, err := mountid.At(top, name)
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
		id, err := mountid.FromFdinfo(fd)
		if err != nil || id != mountid.Reusable(stx.Mnt_id) {
			t.Errorf("fromFdinfo = %v, %v; statx says mount ID %d", id, err, stx.Mnt_id)
		}
	}
}
