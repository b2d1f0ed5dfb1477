package testfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/racefree/racefree/internal/eintr"
)

// watchdogEnv, in the environment of a test binary that imports testfs,
// makes it the watchdog for the base directory the variable names, instead
// of running tests.
const watchdogEnv = "RACEFREE_TESTFS_WATCHDOG"

// watchdogReady is what the watchdog writes once it can no longer be
// stopped by the signals that stop its owner.
const watchdogReady = "ready\n"

func init() {
	// Before the testing package parses flags or runs anything: this
	// process is not a test run.
	if base, ok := os.LookupEnv(watchdogEnv); ok {
		os.Exit(watchdog(base))
	}
}

// watchdog waits for its standard input to reach end of file, which happens
// when the owner calls Release or exits in any way, even SIGKILL, since
// the kernel closes the descriptors of a dead process. Then it unmounts
// everything under base and removes base.
func watchdog(base string) int {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGPIPE)
	os.Stdout.WriteString(watchdogReady)
	io.Copy(io.Discard, os.Stdin)
	if err := teardown(base); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// teardown unmounts every mount under base, deepest first, and then
// removes base. A filesystem still in use (a child test process that
// outlived a killed owner) is detached lazily: it vanishes from base now
// and is freed, with its loop device, once unused. If anything stays
// mounted, base is left alone: removing it would empty the mounts.
func teardown(base string) error {
	points, err := mountsUnder(base)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range points {
		err := eintr.Retry(func() error { return unix.Unmount(p, 0) })
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
