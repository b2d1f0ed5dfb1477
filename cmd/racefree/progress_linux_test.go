package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openPty returns both ends of a new pseudo-terminal.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		t.Skipf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		t.Skipf("naming the pty: %v", err)
	}
	slave, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Skipf("opening the pty: %v", err)
	}
	t.Cleanup(func() { master.Close(); slave.Close() })
	return master, slave
}

// onTerminal runs racefree with args in dir, its standard error on a
// terminal, and returns what the terminal received.
func onTerminal(t *testing.T, dir string, args ...string) string {
	t.Helper()
	master, slave := openPty(t)
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Stderr = dir, slave
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the child holds it; EOF (EIO) comes when it exits
	var out bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&out, master)
		close(done)
	}()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("racefree %q: %v\n%s", args, err, out.String())
	}
	<-done
	return out.String()
}

// TestProgressOnATerminal: a tree job with standard error on a terminal
// ends with a one-line summary, the bar itself cleared; the same job into
// a pipe prints nothing (TestInstallQuietWithoutTerminal, and cmdCase.run,
// which refuses output on success).
func TestProgressOnATerminal(t *testing.T) {
	owner := strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	for _, tc := range []struct {
		args []string
		last []string // what the terminal's last line holds
	}{
		{[]string{"install", "src", "dst"}, []string{"installed dst (", " objects, "}},
		{[]string{"cp", "-a", "src", "dst"}, []string{"copied: 19 objects, 20 B in "}},
		{[]string{"chmod", "-R", "g+rX", "src"}, []string{"changed modes: 19 objects in "}},
		{[]string{"chown", "-R", owner, "src"}, []string{"changed owners: 19 objects in "}},
	} {
		t.Run(tc.args[0], func(t *testing.T) {
			root := t.TempDir()
			makeTree(t, root, sourceTree("src")...)
			out := onTerminal(t, root, tc.args...)
			lines := strings.Split(strings.TrimRight(out, "\r\n"), "\n")
			last := lines[len(lines)-1]
			for _, want := range tc.last {
				if !strings.Contains(last, want) {
					t.Errorf("the terminal's last line is %q, want it to hold %q\nall: %q", last, want, out)
				}
			}
		})
	}
}
