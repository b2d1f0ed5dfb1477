//go:build unix

package reexec

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

	"github.com/racefree/racefree/capability"
	"github.com/racefree/racefree/internal/testfs"
)

const (
	// ChildEnv marks a re-executed child and names its profile, so that a
	// child never re-executes in turn.
	ChildEnv = "RACEFREE_TEST_CHILD"
	// NoReexecEnv, set to anything, keeps a test binary from re-executing.
	NoReexecEnv = "RACEFREE_TEST_NOREEXEC"
	// NobodyID is the uid and gid of the unprivileged children.
	NobodyID = 65534
)

// Child is one re-execution of the test binary.
type Child struct {
	Label   string   // what the output says it is
	Disable string   // its RACEFREE_DISABLE
	Nobody  bool     // runs as uid/gid NobodyID
	Env     []string // more "KEY=value" entries for it
	Out     bytes.Buffer
	Err     error
}

// ProfileName is how a RACEFREE_DISABLE value is called in output.
func ProfileName(disable string) string {
	if disable == "" {
		return "full"
	}
	return "RACEFREE_DISABLE=" + disable
}

// IsChild reports whether this process is a re-executed child.
func IsChild() bool { return os.Getenv(ChildEnv) != "" }

// Wanted reports whether this process should re-execute: it is not a
// child, RACEFREE_TEST_NOREEXEC is unset, and the binary runs in none of
// the modes that must not multiply: listing tests, fuzzing (the
// coordinator and its workers are this binary too), and runs that write
// profiles or coverage files, which the children would overwrite with
// their own.
func Wanted() bool {
	if IsChild() || os.Getenv(NoReexecEnv) != "" {
		return false
	}
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

// Children lists the re-executions that cover profiles: every profile but
// the current process's own, and, when root, every profile as uid 65534.
// When not root it says that the unprivileged runs are skipped.
func Children(profiles []string) []*Child {
	current := os.Getenv(capability.EnvDisable)
	var children []*Child
	for _, p := range profiles {
		if p != current {
			children = append(children, &Child{Label: ProfileName(p), Disable: p})
		}
	}
	if os.Geteuid() != 0 {
		fmt.Printf("=== racefree: not root (euid %d): skipping the re-runs as uid %d; run the tests as root to cover them\n", os.Geteuid(), NobodyID)
		return children
	}
	for _, p := range profiles {
		children = append(children, &Child{Label: fmt.Sprintf("%s as uid %d", ProfileName(p), NobodyID), Disable: p, Nobody: true})
	}
	return children
}

// Start starts every child at once (each buffers its output). The returned
// wait waits for them, prints each one's output after a line naming it,
// and returns how many failed. Call it before releasing the filesystems
// the children were given.
func Start(children []*Child) (wait func() int) {
	var nobodyDir, nobodyBin string
	var setupErr error
	for _, c := range children {
		if c.Nobody {
			nobodyDir, nobodyBin, setupErr = prepareNobody()
			break
		}
	}
	var wg sync.WaitGroup
	for _, c := range children {
		if c.Nobody && setupErr != nil {
			c.Err = fmt.Errorf("cannot prepare the uid %d runs: %w", NobodyID, setupErr)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Err = c.run(nobodyDir, nobodyBin)
		}()
	}
	return func() int {
		wg.Wait()
		if nobodyDir != "" {
			os.RemoveAll(nobodyDir)
		}
		failed := 0
		for _, c := range children {
			fmt.Printf("=== racefree profile: %s\n", c.Label)
			os.Stdout.Write(c.Out.Bytes())
			if c.Err != nil {
				failed++
				fmt.Printf("=== racefree profile %s FAILED: %v\n", c.Label, c.Err)
			} else {
				fmt.Printf("=== racefree profile %s passed\n", c.Label)
			}
		}
		if failed > 0 {
			fmt.Printf("=== racefree: %d of %d profile re-runs failed\n", failed, len(children))
		}
		return failed
	}
}

func (c *Child) run(nobodyDir, nobodyBin string) error {
	bin := os.Args[0]
	if c.Nobody {
		bin = nobodyBin
	}
	cmd := exec.Command(bin, childArgs(os.Args[1:])...)
	// The children reuse the filesystems this process mounted (testfs):
	// those running as uid 65534 could not mount their own.
	env := append([]string{ChildEnv + "=" + c.Label, capability.EnvDisable + "=" + c.Disable}, testfs.Env()...)
	env = append(env, c.Env...)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case ChildEnv, capability.EnvDisable, testfs.EnvVar:
			continue
		case "TMPDIR", "HOME":
			if c.Nobody {
				continue // replaced below
			}
		}
		env = append(env, kv)
	}
	if c.Nobody {
		// t.TempDir must be creatable by the child; its own directory,
		// world-writable and sticky like /tmp, is.
		tmp, err := os.MkdirTemp(nobodyDir, "tmp-")
		if err != nil {
			return err
		}
		if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil {
			return err
		}
		env = append(env, "TMPDIR="+tmp, "HOME="+tmp)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: NobodyID, Gid: NobodyID, Groups: []uint32{}},
		}
		// The working directory (the package directory, where testdata
		// lives) is kept when the child can search it; otherwise it gets
		// its temporary directory rather than failing to start.
		if wd, err := os.Getwd(); err != nil || !searchableByOthers(wd) {
			cmd.Dir = tmp
		}
	}
	cmd.Env = env
	cmd.Stdout = &c.Out
	cmd.Stderr = &c.Out
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
	// Chmod as well: the umask may have cut the mode copyFile asked for.
	err = copyFile(self, bin, 0o755)
	if err == nil {
		err = os.Chmod(bin, 0o755)
	}
	if err != nil {
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
