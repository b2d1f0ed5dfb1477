package main

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
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
// ends with a one-line summary, the bar itself cleared; the same job
// into a pipe prints nothing (TestInstallQuietWithoutTerminal).
func TestProgressOnATerminal(t *testing.T) {
	root := t.TempDir()
	makeTree(t, root, sourceTree("src")...)
	out := onTerminal(t, root, "install", "src", "dst")
	lines := strings.Split(strings.TrimRight(out, "\r\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "installed dst (") || !strings.Contains(last, " files, ") {
		t.Errorf("the terminal's last line is %q, want the install summary\nall: %q", last, out)
	}
	t.Logf("terminal: %q", out)
	wantContent(t, filepath.Join(root, "dst/etc/secret"), "s3cret")
}
