package capability

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openDir opens dir the way callers of ProbeDir do.
func openDir(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// Filesystems known to support every per-filesystem feature.
var fullFilesystems = map[int64]string{
	unix.TMPFS_MAGIC:       "tmpfs",
	unix.EXT4_SUPER_MAGIC:  "ext4",
	unix.XFS_SUPER_MAGIC:   "xfs",
	unix.BTRFS_SUPER_MAGIC: "btrfs",
}

func TestProbeDirConfirmsFeaturesAndLeavesNothingBehind(t *testing.T) {
	dirs := map[string]string{"TempDir": t.TempDir()}
	var sfs unix.Statfs_t
	if unix.Statfs("/dev/shm", &sfs) == nil && sfs.Type == unix.TMPFS_MAGIC && unix.Access("/dev/shm", unix.W_OK) == nil {
		d, err := os.MkdirTemp("/dev/shm", "racefree-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(d) })
			dirs["dev-shm"] = d
		}
	}
	for label, dir := range dirs {
		t.Run(label, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "existing"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := entries(t, dir)
			r, err := ProbeDir(openDir(t, dir))
			if err != nil {
				t.Fatal(err)
			}
			if after := entries(t, dir); !slices.Equal(before, after) {
				t.Errorf("ProbeDir left %q behind (before: %q)", after, before)
			}
			var got []Feature
			for _, s := range r.Features() {
				got = append(got, s.Feature)
			}
			if !slices.Equal(got, All()) {
				t.Errorf("report lists %q", got)
			}
			var st unix.Statfs_t
			if err := unix.Statfs(dir, &st); err != nil {
				t.Fatal(err)
			}
			name, full := fullFilesystems[int64(st.Type)]
			if !full {
				t.Skipf("filesystem type %#x: not known to have every feature; report: %v", st.Type, r.Features())
			}
			for _, f := range []Feature{OTmpfile, RenameNoReplace, RenameExchange, RenameWhiteout} {
				if !Has(f) {
					t.Logf("%s: not in the process report (%s), not tried", f, Probe().Status(f).Detail)
					continue
				}
				if s := r.Status(f); !s.Available || s.Detail != DetailConfirmed {
					t.Errorf("%s on %s: %+v, want available and %q", f, name, s, DetailConfirmed)
				}
			}
		})
	}
}

func TestProbeDirRefusesANonDirectory(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ProbeDir(int(f.Fd())); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("ProbeDir of a file: %v", err)
	}
	if _, err := ProbeDir(-1); err == nil {
		t.Error("ProbeDir(-1) succeeded")
	}
	if got := entries(t, dir); !slices.Equal(got, []string{"file"}) {
		t.Errorf("left behind: %q", got)
	}
}

func TestProbeDirWithoutWritePermission(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	r, err := ProbeDir(openDir(t, dir))
	if err == nil {
		t.Fatal("ProbeDir succeeded in a read-only directory")
	}
	if len(r.Features()) != len(All()) {
		t.Errorf("no report with the error: %v", r.Features())
	}
}

// TestProbeDirMarksMissing mounts a ramfs, which has no RENAME_WHITEOUT,
// and checks that the probe records it for that filesystem only.
func TestProbeDirMarksMissing(t *testing.T) {
	if !Has(RenameWhiteout) {
		t.Skip("rename_whiteout not in the process report")
	}
	dir := t.TempDir()
	if err := unix.Mount("racefree-test", dir, "ramfs", 0, "mode=0755"); err != nil {
		t.Skipf("cannot mount a ramfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	r, err := ProbeDir(openDir(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Errorf("left behind: %q", got)
	}
	s := r.Status(RenameWhiteout)
	if s.Available || !strings.Contains(s.Detail, "RENAME_WHITEOUT") {
		t.Errorf("rename_whiteout on ramfs: %+v", s)
	}
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		t.Fatal(err)
	}
	if HasOn(st.Dev, RenameWhiteout) {
		t.Error("HasOn still says rename_whiteout for the ramfs")
	}
	if Has(RenameExchange) && !r.Has(RenameExchange) {
		t.Errorf("rename_exchange on ramfs: %+v", r.Status(RenameExchange))
	}
	if !Has(RenameWhiteout) {
		t.Error("one filesystem's lack changed the process report")
	}
}
