package dirfd_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/dirfd"
)

// TestWalkDirStaysOnItsMount mounts a tmpfs inside the tree: the walk
// reports the mount point and does not enter it, unless CrossMounts is
// given, and a NoXDev Dir never enters it.
func TestWalkDirStaysOnItsMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a filesystem needs root")
	}
	root := t.TempDir()
	buildTree(t, root, "dir top\nfile top/f f\ndir top/mnt\ndir top/other\nfile top/other/g g")
	mnt := filepath.Join(root, "top", "mnt")
	if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	defer unix.Unmount(mnt, unix.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(mnt, "inside-the-mount"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		opts    []dirfd.Option
		walk    []dirfd.WalkOption
		entered bool
	}{
		{"default", nil, nil, false},
		{"CrossMounts", nil, []dirfd.WalkOption{dirfd.CrossMounts()}, true},
		{"NoXDev with CrossMounts", []dirfd.Option{dirfd.NoXDev()}, []dirfd.WalkOption{dirfd.CrossMounts()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := dirfd.Open(root, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var seen []string
			err = d.WalkDir("top", func(p string, e *dirfd.Entry, err error) error {
				if err != nil {
					return err
				}
				seen = append(seen, p)
				return nil
			}, tc.walk...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(seen, "top/mnt") || !slices.Contains(seen, "top/other/g") {
				t.Errorf("visited %v: want the mount point and the rest of the tree", seen)
			}
			if got := slices.Contains(seen, "top/mnt/inside-the-mount"); got != tc.entered {
				t.Errorf("entered the mount: %v, want %v (visited %v)", got, tc.entered, seen)
			}
		})
	}
}
