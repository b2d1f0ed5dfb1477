package dirfd_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
	"github.com/racefree/racefree/internal/reexec"
)

// TestNoXDevRefusesBindMountOfSameFilesystem: a directory bind-mounted from
// the same filesystem (a host volume in a container's rootfs) has the
// device of the tree around it. NoXDev must refuse it in every profile, as
// openat2's RESOLVE_NO_XDEV does; the component walk used to compare st_dev
// only and let it through.
func TestNoXDevRefusesBindMountOfSameFilesystem(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("not root (euid %d): cannot bind-mount; run the tests as root to cover NoXDev", os.Geteuid())
	}
	if !reexec.InMountNamespace(t) {
		return
	}
	parent := t.TempDir()
	buildTree(t, parent, `
		dir vol
		file vol/x X
		dir in
		dir in/plain
		file in/plain/x P
		dir in/bind
		symlink in/lb bind`)
	if err := unix.Mount(filepath.Join(parent, "vol"), filepath.Join(parent, "in", "bind"), "", unix.MS_BIND, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	defer unix.Unmount(filepath.Join(parent, "in", "bind"), unix.MNT_DETACH)

	d := openDir(t, filepath.Join(parent, "in"), dirfd.NoXDev())
	free := openDir(t, filepath.Join(parent, "in"))
	for _, tc := range []struct {
		name string
		call func(d *dirfd.Dir) error
	}{
		{"Open(bind/x)", func(d *dirfd.Dir) error { return closeFile(d.Open("bind/x")) }},
		{"Stat(bind/x)", func(d *dirfd.Dir) error { _, err := d.Stat("bind/x"); return err }},
		{"Stat(bind)", func(d *dirfd.Dir) error { _, err := d.Stat("bind"); return err }},
		{"Stat(lb/)", func(d *dirfd.Dir) error { _, err := d.Stat("lb/"); return err }},
		{"Lstat(plain/../bind/x)", func(d *dirfd.Dir) error { _, err := d.Lstat("plain/../bind/x"); return err }},
		{"WriteFile(bind/y)", func(d *dirfd.Dir) error { return d.WriteFile("bind/y", nil, 0o644) }},
		{"Mkdir(bind/new)", func(d *dirfd.Dir) error { return d.Mkdir("bind/new", 0o755) }},
		{"MkdirAll(lb/a/b)", func(d *dirfd.Dir) error { return d.MkdirAll("lb/a/b", 0o755) }},
	} {
		if err := tc.call(d); !errors.Is(err, dirfd.ErrEscape) {
			t.Errorf("NoXDev %s = %v, want ErrEscape: the bind mount is another mount", tc.name, err)
		}
		if err := tc.call(free); err != nil && !errors.Is(err, os.ErrExist) {
			t.Errorf("without NoXDev %s = %v, want success: the control must reach the mount", tc.name, err)
		}
	}
	if err := closeFile(d.Open("plain/x")); err != nil {
		t.Errorf("NoXDev Open(plain/x) = %v, want success", err)
	}
	if _, err := os.Stat(filepath.Join(parent, "vol", "y")); err == nil {
		if _, err := os.Stat(filepath.Join(parent, "vol", "new")); err == nil {
			return // the control wrote there, as it should
		}
	}
	t.Errorf("the control without NoXDev did not write into the bind mount")
}
