//go:build unix

package dirfd_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/dirfd"
)

// TestInstallLeavesForeignVersionsAlone pins S5: a NAME.versions that
// racefree did not make for NAME (a directory the caller keeps there for
// its own reasons, another name's versions renamed to it, a directory of
// another user) is never pruned, whichever layout Install publishes in,
// and the versioned layout refuses to publish into it.
func TestInstallLeavesForeignVersionsAlone(t *testing.T) {
	for _, c := range []struct {
		name string
		mark string // the lock file's content, "" for none
	}{
		{"unmarked", ""},
		{"another name's", "other\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			buildTree(t, root, `
				dir app.versions
				file app.versions/keep precious
				dir app.versions/0123456789abcdef
				file app.versions/0123456789abcdef/f looks like a version
				dir app.versions/fedcba9876543210
			`)
			if c.mark != "" {
				if err := os.WriteFile(filepath.Join(root, "app.versions", ".racefree-lock"), []byte(c.mark), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			want := snapshot(t, filepath.Join(root, "app.versions"))
			d := openDir(t, root)
			if capability.Has(capability.RenameExchange) {
				// Direct: a name that was versioned once has its old
				// versions pruned, if they are racefree's.
				install(t, d, "app", 1)
				install(t, d, "app", 2)
				checkVersion(t, d, "app", 2)
			} else if err := d.Install("app", buildVersion(1)); err == nil {
				t.Errorf("versioned Install published into a NAME.versions that is not racefree's")
			}
			if diff := cmp.Diff(want, snapshot(t, filepath.Join(root, "app.versions"))); diff != "" {
				t.Errorf("app.versions changed (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInstallConcurrentVersionedKeepsPublished pins S5's second look: an
// Install that examined the name before another Install published must
// retire and keep what that one published, not prune it at once. Install
// B examines the name (version 0 current) and blocks in build; Install A
// publishes version 1 meanwhile; B then publishes version 2. Version 1 was
// current, so a reader may hold it: it must still be there, retired.
func TestInstallConcurrentVersionedKeepsPublished(t *testing.T) {
	if !runWithout(t, capability.RenameExchange) {
		return
	}
	root := t.TempDir()
	d := openDir(t, root)
	install(t, d, "site", 0)
	inBuild, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	var resB dirfd.InstallResult
	go func() {
		done <- d.Install("site", func(s *dirfd.Dir) error {
			close(inBuild)
			<-release
			return buildVersion(2)(s)
		}, dirfd.Result(&resB))
	}()
	<-inBuild
	resA := install(t, d, "site", 1)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkVersion(t, d, "site", 2)
	versions := filepath.Join(root, "site"+dirfd.VersionsSuffix)
	for _, n := range []string{resA.Version, resA.Version + ".retired"} {
		if _, err := os.Lstat(filepath.Join(versions, n)); err != nil {
			t.Errorf("the version Install A published (%s) was current a moment ago and is within its grace: %v", n, err)
		}
	}
	if target, _ := os.Readlink(filepath.Join(root, "site")); !strings.HasSuffix(target, resB.Version) {
		t.Errorf("site -> %s, want B's version %s", target, resB.Version)
	}
}

// TestInstallLockCannotBeHeldByOthers pins S5's lock: another user who
// opens what it can under NAME.versions and holds an flock on it cannot
// make Install wait, and NAME.versions is mode 0711 so that it cannot list
// it either.
func TestInstallLockCannotBeHeldByOthers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the other user")
	}
	setpriv, err1 := exec.LookPath("setpriv")
	flock, err2 := exec.LookPath("flock")
	if err1 != nil || err2 != nil {
		t.Skip("needs setpriv and flock (util-linux) to hold a lock as another user")
	}
	if !runWithout(t, capability.RenameExchange) {
		return
	}
	root := t.TempDir()
	for _, p := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d := openDir(t, root)
	install(t, d, "site", 1)
	versions := filepath.Join(root, "site"+dirfd.VersionsSuffix)
	// The other user must be able to reach NAME.versions, as readers of
	// the tree must, or the test proves nothing.
	if out, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", `cd "$1"`, "sh", versions).CombinedOutput(); err != nil {
		t.Fatalf("uid 65534 cannot reach %s: %v %s", versions, err, out)
	}
	if fi, err := os.Stat(versions); err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("site.versions: %v, %v; want mode 0711", fi, err)
	}
	var holders []*exec.Cmd
	for _, p := range []string{versions, filepath.Join(versions, ".racefree-lock")} {
		cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", flock, "-x", p, "sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		holders = append(holders, cmd)
	}
	defer func() {
		for _, c := range holders {
			c.Process.Kill()
			c.Wait()
		}
	}()
	time.Sleep(200 * time.Millisecond) // let them take what they can
	done := make(chan error, 1)
	go func() { done <- d.Install("site", buildVersion(2)) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Install waits on a lock another user holds")
	}
	checkVersion(t, d, "site", 2)
}
