package testfs

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := Release(); err != nil {
		fmt.Println(err)
		code = 1
	}
	os.Exit(code)
}

var magic = map[string]int64{
	"ext4":  unix.EXT4_SUPER_MAGIC,
	"xfs":   unix.XFS_SUPER_MAGIC,
	"btrfs": unix.BTRFS_SUPER_MAGIC,
	"tmpfs": unix.TMPFS_MAGIC,
	"fuse":  unix.FUSE_SUPER_MAGIC,
}

func TestEachGivesAnEmptyDirectoryOnTheNamedFilesystem(t *testing.T) {
	var seen []string
	Each(t, func(t *testing.T, fs FS) {
		seen = append(seen, fs.Name)
		entries, err := os.ReadDir(fs.Dir)
		if err != nil || len(entries) != 0 {
			t.Fatalf("ReadDir(%s) = %d entries, %v; want an empty directory", fs.Dir, len(entries), err)
		}
		if err := os.WriteFile(filepath.Join(fs.Dir, "f"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if fs.Name == "tempdir" {
			return
		}
		// The scratch directory every sub-test's directory is made in.
		fi, err := os.Stat(filepath.Dir(fs.Dir))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode()&(os.ModeSticky|os.ModePerm) != os.ModeSticky|0o777 {
			t.Errorf("the scratch directory of %s is %v; want sticky and world-writable", fs.Name, fi.Mode())
		}
		var st unix.Statfs_t
		if err := unix.Statfs(fs.Dir, &st); err != nil {
			t.Fatal(err)
		}
		if want := magic[fs.Name]; st.Type != want {
			t.Errorf("%s is on a filesystem of type %#x, want %#x (%s)", fs.Dir, st.Type, want, fs.Name)
		}
	})
	if os.Geteuid() == 0 && !slices.Equal(seen, []string{"ext4", "xfs", "btrfs", "tmpfs", "fuse"}) {
		t.Logf("as root, ran on %q only (see the skip messages)", seen)
	}
}

func TestUnescapeOctal(t *testing.T) {
	for in, want := range map[string]string{
		`/tmp/a\040b`:   "/tmp/a b",
		`/x\134y\011z`:  "/x\\y\tz",
		`/plain`:        "/plain",
		`/short\04`:     `/short\04`,
		`/not\089octal`: `/not\089octal`,
	} {
		if got := unescapeOctal(in); got != want {
			t.Errorf("unescapeOctal(%q) = %q, want %q", in, got, want)
		}
	}
}

const helperEnv = "RACEFREE_TESTFS_TEST_HELPER"

// TestHelperOwner is the owner process of TestWatchdog: it mounts the
// matrix, prints where and who its watchdog is, and then releases or
// sleeps until killed, as the parent asks; in mode "hang", with one of its
// threads stuck in a lookup the FUSE server will never answer.
func TestHelperOwner(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("helper process of TestWatchdog")
	}
	Each(t, func(t *testing.T, fs FS) {})
	m, _ := state.owned.(*mounts)
	if m == nil {
		t.Fatal("nothing was mounted")
	}
	fmt.Printf("watchdog %d\n", m.watchdog.Process.Pid)
	for _, c := range state.cells {
		if c.Skip == "" {
			fmt.Printf("scratch %s\n", c.Scratch)
		}
	}
	fmt.Println("mounted")
	switch mode {
	case "release":
		if err := Release(); err != nil {
			t.Fatal(err)
		}
		return
	case "hang":
		go os.Stat(filepath.Join(cellMount(t, fuseName), hangName))
	}
	select {} // until killed
}

// cellMount is where the cell name of this process's matrix is mounted.
func cellMount(t *testing.T, name string) string {
	for _, c := range state.cells {
		if c.Name == name && c.Skip == "" {
			return filepath.Dir(c.Scratch)
		}
	}
	t.Fatalf("no %s cell", name)
	return ""
}

// TestWatchdog checks that the mounts are undone both by Release and when
// the owner is killed without a chance to run any code, even while one of
// its threads waits for a hung FUSE server (which, without the watchdog,
// would keep it from ever finishing dying).
func TestWatchdog(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: nothing is mounted, so there is nothing to watch")
	}
	for _, mode := range []string{"release", "kill", "hang"} {
		t.Run(mode, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOwner$", "-test.v")
			// Without EnvVar: the helper must mount its own.
			cmd.Env = []string{helperEnv + "=" + mode}
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, EnvVar+"=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var watchdog int
			var scratches []string
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				if s, ok := strings.CutPrefix(line, "scratch "); ok {
					scratches = append(scratches, s)
				}
				fmt.Sscanf(line, "watchdog %d", &watchdog)
				if line == "mounted" {
					break
				}
			}
			if watchdog == 0 || len(scratches) == 0 {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper said nothing useful (watchdog %d, scratch %q): %v", watchdog, scratches, sc.Err())
			}
			pidfd, err := unix.PidfdOpen(watchdog, 0)
			if err != nil {
				cmd.Process.Kill()
				t.Fatal(err)
			}
			defer unix.Close(pidfd)
			base := filepath.Dir(filepath.Dir(scratches[0]))
			fuseMount := filepath.Join(base, fuseName)
			if mode == "hang" {
				if !slices.Contains(scratches, filepath.Join(fuseMount, scratchName)) {
					cmd.Process.Kill()
					cmd.Wait()
					t.Skip("the FUSE cell is not available (see TestEachGivesAnEmptyDirectoryOnTheNamedFilesystem)")
				}
				if err := waitForHang(filepath.Join(base, fuseBackingName, hungMarker)); err != nil {
					cmd.Process.Kill()
					cmd.Wait()
					t.Fatal(err)
				}
			}
			if mode != "release" {
				if points, _ := mountsUnder(base); len(points) == 0 {
					t.Errorf("nothing mounted under %s while the owner runs", base)
				}
				cmd.Process.Signal(syscall.SIGKILL)
			}
			exited := make(chan struct{})
			go func() {
				cmd.Wait()
				close(exited)
			}()
			select {
			case <-exited:
			case <-time.After(time.Minute):
				// Not a timing assertion: the watchdog looks once a second;
				// a minute means it never will. Unstick the owner for it, so
				// that the failure does not leave an unkillable process.
				t.Errorf("the owner has not exited a minute after it was killed: the watchdog did not abort the FUSE connection it waits on")
				unix.Unmount(fuseMount, unix.MNT_FORCE|unix.MNT_DETACH)
				<-exited
			}
			// The watchdog's exit, not a timeout, says it is done.
			fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
			for {
				n, err := unix.Poll(fds, -1)
				if err == unix.EINTR {
					continue
				}
				if err != nil || n != 1 {
					t.Fatalf("poll(pidfd) = %d, %v", n, err)
				}
				break
			}
			if points, err := mountsUnder(base); err != nil || len(points) != 0 {
				t.Errorf("after the watchdog: mounted under %s: %q, %v", base, points, err)
			}
			if _, err := os.Lstat(base); !os.IsNotExist(err) {
				t.Errorf("after the watchdog: %s still exists (%v)", base, err)
			}
		})
	}
}

// waitForHang waits until the FUSE server has the helper's lookup of
// hangName in hand (and creates marker), so that the helper is killed
// while the kernel can no longer take the request back.
func waitForHang(marker string) error {
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Lstat(marker); err == nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			return fmt.Errorf("the lookup of %s never reached the FUSE server (%s not created)", hangName, marker)
		}
	}
}
