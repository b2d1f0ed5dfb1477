package capability

import (
	"errors"
	"fmt"
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
	if HasAt(openDir(t, dir), RenameWhiteout) {
		t.Error("HasAt still says rename_whiteout for the ramfs")
	}
	if Has(RenameExchange) && !r.Has(RenameExchange) {
		t.Errorf("rename_exchange on ramfs: %+v", r.Status(RenameExchange))
	}
	if !Has(RenameWhiteout) {
		t.Error("one filesystem's lack changed the process report")
	}
}

// TestTmpfileLinkVerdict: which failures to name an unnamed file of our
// own, in a scratch directory of our own, mark the filesystem missing
// o_tmpfile. The end-to-end case, a FUSE filesystem that opens O_TMPFILE
// but cannot link the file, is dirfd's TestAtomicFileWhereUnnamedFilesCannotBeNamed.
func TestTmpfileLinkVerdict(t *testing.T) {
	const nobody = 65534
	for _, tc := range []struct {
		name           string
		err            error
		owner, euid    int
		emptyPathWorks bool
		missing        bool
		detail         string // in the Detail
	}{
		{"EXDEV", unix.EXDEV, 0, 0, true, true, "EXDEV (invalid cross-device link)"},
		{"EXDEV without a known route", unix.EXDEV, nobody, nobody, false, true, "EXDEV"},
		{"EOPNOTSUPP", unix.EOPNOTSUPP, 0, 0, true, true, "(operation not supported)"},
		{"ENOSYS", unix.ENOSYS, 0, 0, true, true, "ENOSYS"},
		{"EINVAL", unix.EINVAL, 0, 0, true, true, "EINVAL"},
		{"wrapped EXDEV", fmt.Errorf("linkat: %w", unix.EXDEV), 0, 0, true, true, "EXDEV"},
		{"ENOENT: AT_EMPTY_PATH not allowed to us", unix.ENOENT, nobody, nobody, false, false, "not allowed to this process"},
		{"EPERM: the filesystem gave our file to root", unix.EPERM, 0, nobody, true, true, "owned by uid 0"},
		{"EPERM: the filesystem gave our file away, route not known", unix.EPERM, 0, nobody, false, true, "protected_hardlinks"},
		{"EPERM on our own file", unix.EPERM, nobody, nobody, true, true, "refused by the filesystem"},
		{"EPERM on our own file, route not known", unix.EPERM, nobody, nobody, false, false, "EPERM"},
		{"EPERM as root on another's file", unix.EPERM, 1000, 0, true, true, "refused by the filesystem"},
		{"EPERM as root, route not known", unix.EPERM, 1000, 0, false, false, "EPERM"},
		{"EPERM, owner unknown", unix.EPERM, -1, nobody, true, false, "EPERM"},
		{"ENOSPC", unix.ENOSPC, 0, 0, true, false, "ENOSPC"},
		{"not an errno", errors.New("something else"), 0, 0, true, false, "something else"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			missing, detail := tmpfileLinkVerdict(tc.err, tc.owner, tc.euid, tc.emptyPathWorks)
			if missing != tc.missing || !strings.Contains(detail, tc.detail) {
				t.Errorf("tmpfileLinkVerdict(%v, owner %d, euid %d, %v) = %v, %q; want %v, naming %q",
					tc.err, tc.owner, tc.euid, tc.emptyPathWorks, missing, detail, tc.missing, tc.detail)
			}
		})
	}
}
