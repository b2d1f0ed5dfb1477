package staging

import (
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// newStage creates a stage in a fresh temporary directory.
func newStage(t *testing.T) (string, *Dir) {
	t.Helper()
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	s, err := Create(fd)
	if err != nil {
		t.Fatal(err)
	}
	return dir, s
}

func TestCreateRemove(t *testing.T) {
	dir, s := newStage(t)
	// Something a failed operation left inside is removed with the stage.
	if err := unix.Symlinkat("x", s.Fd, "left"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

// TestRemoveLeavesAStrangersContents swaps the stage for a non-empty
// directory before Remove: rmdir refuses it, and only our own (moved) stage
// is emptied through its descriptor.
func TestRemoveLeavesAStrangersContents(t *testing.T) {
	dir, s := newStage(t)
	if err := unix.Symlinkat("x", s.Fd, "ours"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir+"/"+s.Name, dir+"/moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir+"/"+s.Name+"/theirs", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(); err == nil {
		t.Fatal("removed the stranger's non-empty directory")
	}
	if _, err := os.Stat(dir + "/" + s.Name + "/theirs"); err != nil {
		t.Fatalf("stranger's contents: %v", err)
	}
	if entries, _ := os.ReadDir(dir + "/moved"); len(entries) != 0 {
		t.Fatalf("our moved stage was not emptied: %v", entries)
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
