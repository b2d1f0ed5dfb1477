//go:build unix

package dirfd_test

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/testfs"
)

// The resolver profile is chosen once per process from RACEFREE_DISABLE, so
// one test process can only ever exercise one of them. TestMain therefore
// runs the tests in this process and then runs the very same test binary
// again, with the same -test.* flags (so -race, -run, -v, -count carry over),
// once for every other profile and, when we are root, once per profile as
// the unprivileged uid/gid 65534, where permission checks really apply.
//
// Set RACEFREE_TEST_NOREEXEC=1 to run only the current process's profile.
//
// The filesystems of internal/testfs are mounted once, by this process when
// a test first asks, handed to every child through testfs.Env, and
// released after the last child has exited.

const (
	// childEnv marks a re-executed child and names its profile, so a child
	// never re-executes in turn.
	childEnv    = "RACEFREE_TEST_CHILD"
	noReexecEnv = "RACEFREE_TEST_NOREEXEC"
	nobodyID    = 65534
)

// profiles are the values of RACEFREE_DISABLE that select the three
// resolvers: openat2, the O_PATH component walk, and the portable walk.
var profiles = []string{"", "openat2", "all"}

func profileName(p string) string {
	if p == "" {
		return "full"
	}
	return "RACEFREE_DISABLE=" + p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if os.Getenv(childEnv) == "" && os.Getenv(noReexecEnv) == "" && reexecWanted() {
		if reexecAll() != 0 && code == 0 {
			code = 1
		}
	}
	// Only now: the children work on the filesystems this process mounted.
	if err := testfs.Release(); err != nil {
		fmt.Printf("=== racefree: releasing the test filesystems: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// reexecWanted is false for the modes of the test binary that must not
// multiply: listing tests, fuzzing (the coordinator and its workers are
// this binary too), and runs that write profiles or coverage files, which
// the children would overwrite with their own.
func reexecWanted() bool {
	flagSet := func(name string) bool {
		f := flag.Lookup(name)
		return f != nil && f.Value.String() != "" && f.Value.String() != "false"
	}
	for _, name := range []string{
		"test.list", "test.fuzz", "test.fuzzworker",
		"test.coverprofile", "test.cpuprofile", "test.memprofile",
		"test.blockprofile", "test.mutexprofile", "test.trace",
	} {
		if flagSet(name) {
			return false
		}
	}
	return true
}

type child struct {
	label   string
	disable string
	nobody  bool
	out     bytes.Buffer
	err     error
}

// reexecAll runs the children concurrently (each buffers its output) and
// prints each one's output after a line naming its profile. It returns the
// number of children that failed.
func reexecAll() int {
	current := os.Getenv(capability.EnvDisable)
	var children []*child
	for _, p := range profiles {
		if p != current {
			children = append(children, &child{label: profileName(p), disable: p})
		}
	}
	var nobodyDir, nobodyBin string
	if os.Geteuid() == 0 {
		var err error
		nobodyDir, nobodyBin, err = prepareNobody()
		if err != nil {
			fmt.Printf("=== racefree: cannot prepare the uid %d runs: %v\n", nobodyID, err)
			return 1
		}
		defer os.RemoveAll(nobodyDir)
		for _, p := range profiles {
			children = append(children, &child{label: fmt.Sprintf("%s as uid %d", profileName(p), nobodyID), disable: p, nobody: true})
		}
	} else {
		fmt.Printf("=== racefree: not root (euid %d): skipping the re-runs as uid %d; run the tests as root to cover them\n", os.Geteuid(), nobodyID)
	}

	var wg sync.WaitGroup
	for _, c := range children {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.err = c.run(nobodyDir, nobodyBin)
		}()
	}
	wg.Wait()

	failed := 0
	for _, c := range children {
		fmt.Printf("=== racefree profile: %s\n", c.label)
		os.Stdout.Write(c.out.Bytes())
		if c.err != nil {
			failed++
			fmt.Printf("=== racefree profile %s FAILED: %v\n", c.label, c.err)
		} else {
			fmt.Printf("=== racefree profile %s passed\n", c.label)
		}
	}
	if failed > 0 {
		fmt.Printf("=== racefree: %d of %d profile re-runs failed\n", failed, len(children))
	}
	return failed
}

func (c *child) run(nobodyDir, nobodyBin string) error {
	bin := os.Args[0]
	if c.nobody {
		bin = nobodyBin
	}
	cmd := exec.Command(bin, childArgs(os.Args[1:])...)
	// The children reuse the filesystems this process's tests mounted
	// (testfs): those running as uid 65534 could not mount their own.
	env := append([]string{childEnv + "=" + c.label, capability.EnvDisable + "=" + c.disable}, testfs.Env()...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case childEnv, capability.EnvDisable, testfs.EnvVar:
			continue
		case "TMPDIR", "HOME":
			if c.nobody {
				continue // replaced below
			}
		}
		env = append(env, kv)
	}
	if c.nobody {
		// t.TempDir must be creatable by the child; its own directory,
		// world-writable and sticky like /tmp, is.
		tmp, err := os.MkdirTemp(nobodyDir, "tmp-")
		if err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o1777); err != nil {
			return err
		}
		env = append(env, "TMPDIR="+tmp, "HOME="+tmp)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID, Groups: []uint32{}},
		}
		// The working directory (the package directory, where testdata
		// lives) is kept when the child can search it; otherwise it gets
		// its temporary directory rather than failing to start.
		if wd, err := os.Getwd(); err != nil || !searchableByOthers(wd) {
			cmd.Dir = tmp
		}
	}
	cmd.Env = env
	cmd.Stdout = &c.out
	cmd.Stderr = &c.out
	return cmd.Run()
}

// childArgs is the parent's arguments less the ones naming files that the
// parent writes itself (the go command's test log, used for caching).
func childArgs(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(strings.TrimLeft(a, "-"), "test.testlogfile") {
			continue
		}
		out = append(out, a)
	}
	return out
}

// prepareNobody makes a directory uid 65534 can use and copies the test
// binary into it: the go command builds it in a private (0700) directory.
func prepareNobody() (dir, bin string, err error) {
	dir, err = os.MkdirTemp("", "racefree-nobody-")
	if err != nil {
		return "", "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	self, err := os.Executable()
	if err != nil {
		self = os.Args[0]
	}
	bin = filepath.Join(dir, filepath.Base(self))
	if err := copyFile(self, bin, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", "", err
	}
	return dir, bin, nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// searchableByOthers reports whether every directory from / down to dir
// grants search permission to other users.
func searchableByOthers(dir string) bool {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

// profile is the RACEFREE_DISABLE value this process runs under.
func profile() string { return os.Getenv(capability.EnvDisable) }
