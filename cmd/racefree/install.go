package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/racefree/racefree/dirfd"
)

func runInstall(e *env, args []string) error {
	flags := newFlags("install")
	verify := flags.String("verify", "", "run `CMD` with sh -c on the staged tree (as $1 and working directory) before publishing it; a non-zero exit refuses the install")
	keep := flags.String("keep-previous", "", "keep the tree DEST held before as `NAME`, an entry in DEST's directory (replacing what NAME held)")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) != 2 {
		return usagef("want SRC_DIR and DEST, got %d operands", len(operands))
	}
	if err := checkOperands(operands); err != nil {
		return err
	}
	if *keep != "" && (strings.Contains(*keep, "/") || *keep == "." || *keep == "..") {
		return usagef("--keep-previous %q: want a name in DEST's directory, without '/'", *keep)
	}
	dest := parseEntry(operands[1])
	if !dest.isEntry() {
		return usagef("DEST %q: want a name to install the tree under, not \"/\", \".\" or \"..\"", dest.arg)
	}

	s, err := rf.open()
	if err != nil {
		return err
	}
	defer s.Close()
	src, err := s.openDir(operands[0])
	if err != nil {
		return err
	}
	defer src.Close()
	d, err := s.parent(dest)
	if err != nil {
		return err
	}
	defer d.Close()

	srcInfo, err := src.Lstat(".")
	if err != nil {
		return operandError(operands[0], err)
	}
	p := newProgress(e.stderr)
	var res dirfd.InstallResult
	opts := []dirfd.InstallOption{dirfd.Mode(srcInfo.Mode()), dirfd.Result(&res)}
	if *verify != "" {
		opts = append(opts, dirfd.Verify(func(stage *dirfd.Dir) error { return runVerify(e, *verify, stage) }))
	}
	if *keep != "" {
		opts = append(opts, dirfd.KeepPrevious(*keep))
	}
	build := func(stage *dirfd.Dir) error { return copyTree(src, stage, p) }
	err = d.Install(dest.name, build, opts...)
	p.done(dest.arg, res, err)
	if err != nil {
		return installError(dest.arg, err)
	}
	return nil
}

// verifyError is a --verify command that refused the staged tree.
type verifyError struct {
	cmd string
	err error // from exec.Cmd.Run
}

func (v *verifyError) Error() string {
	return fmt.Sprintf("--verify %q refused the staged tree (%v)", v.cmd, v.err)
}

// runVerify runs cmd with sh on the staged tree. The stage is reachable only
// through its descriptor (its path is inside a private staging directory
// that gets renamed), so on Linux the tree is named /proc/PID/fd/N with our
// own pid: valid for as long as we hold the descriptor, which the child does
// not inherit (every descriptor the library makes is close-on-exec, and
// os/exec passes on only standard input, output and error), so the child
// can reach the tree only through that name.
func runVerify(e *env, cmd string, stage *dirfd.Dir) error {
	path := stagePath(stage)
	c := exec.Command("sh", "-c", cmd, "racefree-verify", path)
	c.Dir = path
	c.Env = append(os.Environ(), "RACEFREE_STAGE="+path)
	c.Stdout, c.Stderr = e.stdout, e.stderr
	if err := c.Run(); err != nil {
		return &verifyError{cmd: cmd, err: err}
	}
	return nil
}

func installError(dest string, err error) error {
	if ve := (*verifyError)(nil); errors.As(err, &ve) {
		return fmt.Errorf("%s: %v; %s left as it was", quote(dest), ve, quote(dest))
	}
	return operandError(dest, err)
}

// layoutText says how the tree was published under dest, for the terminal
// summary.
func layoutText(dest string, res dirfd.InstallResult) string {
	switch {
	case res.Layout == dirfd.LayoutDirect && res.Replaced:
		return "direct layout: the old tree was exchanged with the new one atomically"
	case res.Layout == dirfd.LayoutDirect:
		return "direct layout: a new name, published by one rename"
	case res.Layout == dirfd.LayoutVersioned && res.Replaced:
		return fmt.Sprintf("versioned layout: the symlink was replaced atomically by one to %s%s/%s", dest, dirfd.VersionsSuffix, res.Version)
	case res.Layout == dirfd.LayoutVersioned:
		return fmt.Sprintf("versioned layout: a new symlink to %s%s/%s", dest, dirfd.VersionsSuffix, res.Version)
	}
	return res.Layout.String()
}

// progress reports files, bytes and rate on standard error, only when it
// is a terminal: output meant for people, which must not end up in logs or
// pipes (there, install prints nothing on success).
type progress struct {
	w            io.Writer // nil: quiet
	files, bytes int64
	start, last  time.Time
}

func newProgress(stderr io.Writer) *progress {
	p := &progress{start: time.Now()}
	if f, ok := stderr.(*os.File); ok && isTerminal(int(f.Fd())) {
		p.w = stderr
	}
	return p
}

// add counts one file of n bytes and redraws the line at most ten times a
// second.
func (p *progress) add(n int64) {
	p.files++
	p.bytes += n
	if p.w == nil {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 100*time.Millisecond {
		p.last = now
		fmt.Fprintf(p.w, "\r%s", p.line(now))
	}
}

func (p *progress) line(now time.Time) string {
	secs := now.Sub(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(p.bytes) / secs
	}
	return fmt.Sprintf("%d files, %s, %s/s", p.files, sizeText(float64(p.bytes)), sizeText(rate))
}

// done ends the progress line with a summary on success.
func (p *progress) done(dest string, res dirfd.InstallResult, err error) {
	if p.w == nil {
		return
	}
	if err != nil {
		fmt.Fprint(p.w, "\r\033[K")
		return
	}
	fmt.Fprintf(p.w, "\r\033[Kinstalled %s: %s in %.1fs (%s)\n", dest, p.line(time.Now()), time.Since(p.start).Seconds(), layoutText(dest, res))
}

func sizeText(n float64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%.0f B", n)
	}
	i := 0
	for n >= unit && i < 4 {
		n /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", n, "KMGT"[i-1])
}
