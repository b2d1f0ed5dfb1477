package capability

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/mountid"
)

// twoMounts returns descriptors of two directories on different mounts:
// the test's temporary directory and /dev/shm.
func twoMounts(t *testing.T) (int, int) {
	t.Helper()
	a, b := openDir(t, t.TempDir()), -1
	if _, err := os.Stat("/dev/shm"); err == nil {
		b = openDir(t, "/dev/shm")
	}
	ia, err1 := mountid.Of(a)
	var ib mountid.ID
	var err2 error
	if b >= 0 {
		ib, err2 = mountid.Of(b)
	}
	if b < 0 || err1 != nil || err2 != nil || ia == ib {
		t.Skip("needs the temporary directory and /dev/shm on two mounts")
	}
	return a, b
}

// TestMarkMissingIsPerMountAndPerFilesystemFeatureOnly: a mark applies to
// the mount it was learned on, to per-filesystem features only.
func TestMarkMissingIsPerMountAndPerFilesystemFeatureOnly(t *testing.T) {
	if !Has(OTmpfile) || !Has(Openat2) {
		t.Skip("needs o_tmpfile and openat2 in the process report")
	}
	a, b := twoMounts(t)
	t.Cleanup(func() { forget(a, OTmpfile) })
	MarkMissing(a, OTmpfile, "test: no unnamed files here")
	MarkMissing(a, Openat2, "test: not per filesystem, must be ignored")
	if HasAt(a, OTmpfile) {
		t.Error("HasAt after MarkMissing")
	}
	if !HasAt(b, OTmpfile) {
		t.Error("MarkMissing leaked to another mount")
	}
	if !HasAt(a, Openat2) {
		t.Error("MarkMissing took away a kernel-wide feature")
	}
	r := ForDir(a)
	if s := r.Status(OTmpfile); s.Available || s.Detail != "test: no unnamed files here" {
		t.Errorf("ForDir: %+v", s)
	}
	if !r.Has(Openat2) || !ForDir(b).Has(OTmpfile) {
		t.Error("ForDir changed more than the marked feature")
	}
}

// TestReusableKeysAreNotTrustedForGuarantees pins S6's second half: a mark
// stored under a mount ID that can be reused (before Linux 6.8) is trusted
// for a feature whose absence costs speed only (o_tmpfile), never for one
// whose absence weakens a guarantee (rename_exchange, rename_noreplace):
// those are tried again instead.
func TestReusableKeysAreNotTrustedForGuarantees(t *testing.T) {
	k := fsKey{mount: mountid.ID{}, fsType: 0x01021994, dev: 1<<63 | 0x7ace} // the zero ID: not unique
	for _, c := range []struct {
		f       Feature
		believe bool
	}{
		{OTmpfile, true},
		{RenameExchange, false},
		{RenameNoReplace, false},
	} {
		key := k
		key.f = c.f
		fsMissing.Store(key, "test")
		if got := believeMissing(k, c.f); got != c.believe {
			t.Errorf("%s under a reusable mount ID: believed %v, want %v", c.f, got, c.believe)
		}
		fsMissing.Delete(key)
	}
}

// TestMarkDoesNotOutliveItsMount replays S6's attack: a filesystem learned
// to lack rename_exchange is unmounted, and the next tmpfs gets its device
// number: it must not inherit the mark.
func TestMarkDoesNotOutliveItsMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount")
	}
	if !Has(RenameExchange) {
		t.Skip("needs rename_exchange in the process report")
	}
	dir := t.TempDir()
	mount := func() (int, uint64) {
		if err := unix.Mount("racefree-s6", dir, "tmpfs", 0, "size=1m"); err != nil {
			t.Skipf("mount tmpfs: %v", err)
		}
		fd := openDir(t, dir)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		return fd, st.Dev
	}
	fd, dev := mount()
	MarkMissing(fd, RenameExchange, "test: learned on the first mount")
	if HasAt(fd, RenameExchange) && mustUnique(t, fd) {
		t.Fatal("the mark did not take")
	}
	unix.Close(fd)
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	fd2, dev2 := mount()
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if dev2 != dev {
		t.Logf("the second tmpfs got device %d, not %d: checked anyway", dev2, dev)
	}
	if !HasAt(fd2, RenameExchange) {
		t.Errorf("a new mount inherited the mark of an unmounted one (device %d)", dev2)
	}
	if !ForDir(fd2).Has(RenameExchange) {
		t.Errorf("ForDir of a new mount reports the mark of an unmounted one")
	}
}

// mustUnique reports whether fd's mount has an ID that is never reused.
func mustUnique(t *testing.T, fd int) bool {
	id, err := mountid.Of(fd)
	return err == nil && id.Unique()
}

// TestProbeForgetsAMarkItConfirms: a feature ProbeDir confirms on a mount
// drops a mark recorded under that mount's key.
func TestProbeForgetsAMarkItConfirms(t *testing.T) {
	if !Has(OTmpfile) {
		t.Skip("needs o_tmpfile")
	}
	dir := t.TempDir()
	fd := openDir(t, dir)
	if r, err := ProbeDir(fd); err != nil || r.Status(OTmpfile).Detail != DetailConfirmed {
		t.Skipf("o_tmpfile not confirmed on %s: %v", dir, err)
	}
	MarkMissing(fd, OTmpfile, "test: stale")
	if HasAt(fd, OTmpfile) {
		t.Fatal("the mark did not take")
	}
	if r, err := ProbeDir(fd); err != nil || !r.Has(OTmpfile) {
		t.Errorf("ProbeDir after a stale mark: %+v, %v", r.Status(OTmpfile), err)
	}
	if !HasAt(fd, OTmpfile) {
		t.Error("the confirmed feature is still marked missing")
	}
}
