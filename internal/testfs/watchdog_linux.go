package testfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// watchdogEnv, in the environment of a test binary that imports testfs,
// makes it the watchdog for the base directory the variable names, instead
// of running tests.
const watchdogEnv = "RACEFREE_TESTFS_WATCHDOG"

// watchdogReady starts the line the watchdog writes once it can no longer
// be stopped by the signals that stop its owner. The reason the FUSE cell
// is unavailable, if it is, follows after a tab.
const watchdogReady = "ready"

// ownerPoll is how often the watchdog looks whether its owner is dying.
const ownerPoll = time.Second

func init() {
	// Before the testing package parses flags or runs anything: this
	// process is not a test run.
	if base, ok := os.LookupEnv(watchdogEnv); ok {
		os.Exit(watchdog(base))
	}
}

// watchdog serves the FUSE cell (see serveFuse) and waits for its standard
// input to reach end of file, which happens when the owner calls Release
// or exits in any way, even SIGKILL, since the kernel closes the
// descriptors of a dead process; or until it sees the owner dying, which
// comes first when one of the owner's threads is stuck in a request to a
// hung FUSE server. Then it unmounts everything under base and removes
// base.
func watchdog(base string) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	owner := os.Getppid()
	line := watchdogReady
	if skip := serveFuse(base); skip != "" {
		line += "\t" + strings.ReplaceAll(skip, "\n", " ")
	}
	os.Stdout.WriteString(line + "\n")
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		done <- struct{}{}
	}()
	go func() {
		for !dying(owner) {
			time.Sleep(ownerPoll)
		}
		done <- struct{}{}
	}()
	<-done
	if err := teardown(base); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if fusePanicked.Load() {
		return 1 // the panics are in the output already
	}
	return 0
}

// dying reports whether the process pid has begun to exit but cannot
// finish: its main thread is a zombie (it exited, other threads have yet
// to), or SIGKILL is pending for it (it cannot take the signal: it is
// waiting uninterruptibly, as for an answer a hung FUSE server will never
// give). A process that was merely told to stop is not dying, and one that
// is gone has closed its end of the watchdog's standard input, which says
// so already.
func dying(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	const sigkill = 1 << (unix.SIGKILL - 1)
	for _, line := range strings.Split(string(b), "\n") {
		key, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch key {
		case "State":
			if strings.HasPrefix(value, "Z") || strings.HasPrefix(value, "X") {
				return true
			}
		case "SigPnd", "ShdPnd":
			if mask, err := strconv.ParseUint(value, 16, 64); err == nil && mask&sigkill != 0 {
				return true
			}
		}
	}
	return false
}

// teardown unmounts every mount under base, deepest first, and then
// removes base. MNT_FORCE aborts the FUSE cell's connection first, so that
// nothing waits any longer for its server (hung, or about to stop with this
// process); the other filesystems of the matrix have no use for it and
// ignore it. A filesystem still in use (a child test process that outlived
// a killed owner) is detached lazily: it vanishes from base now and is
// freed, with its loop device, once unused. If anything stays mounted, base
// is left alone: removing it would empty the mounts.
func teardown(base string) error {
	points, err := mountsUnder(base)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range points {
		err := eintr.Retry(func() error { return unix.Unmount(p, unix.MNT_FORCE) })
		if err == unix.EBUSY {
			err = eintr.Retry(func() error { return unix.Unmount(p, unix.MNT_DETACH) })
		}
		if err != nil {
			errs = append(errs, &fs.PathError{Op: "umount", Path: p, Err: err})
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w; left %s in place", errors.Join(errs...), base)
	}
	return os.RemoveAll(base)
}

// mountsUnder lists the mount points at or below base, deepest first, one
// entry per mount (a point mounted over twice is listed twice).
func mountsUnder(base string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		// The fifth field is the mount point, with space, tab, newline
		// and backslash written as octal escapes.
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		p := unescapeOctal(fields[4])
		if p == base || strings.HasPrefix(p, base+"/") {
			points = append(points, p)
		}
	}
	// Later lines are newer mounts; a stable sort by depth keeps them
	// first among equals, so stacked mounts come off top first.
	slices.Reverse(points)
	slices.SortStableFunc(points, func(a, b string) int {
		return strings.Count(b, "/") - strings.Count(a, "/")
	})
	return points, nil
}

func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return '0' <= c && c <= '7' }
