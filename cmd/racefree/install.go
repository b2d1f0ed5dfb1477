package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/racefree/racefree/dirfd"
)

func runInstall(e *env, args []string) error {
	flags := newFlags("install")
	verify := flags.String("verify", "", "run `CMD` with sh -c on the staged tree (as $1 and working directory) before publishing it; a non-zero exit refuses the install")
	keep := flags.String("keep-previous", "", "keep the tree DEST held before as `NAME`, an entry in DEST's directory (replacing what NAME held)")
	linkUnchanged := flags.Bool("link-unchanged", false, "hard-link files whose size, mode, owner and time equal those of the tree installed at DEST now, instead of copying them")
	rf := addRootFlags(flags)
	operands, err := parseFlags(flags, e, args)
	if err != nil {
		return err
	}
	if len(operands) != 2 {
		return usagef("want SRC_DIR and DEST, got %d operands", len(operands))
	}
	if *keep != "" && (strings.Contains(*keep, "/") || *keep == "." || *keep == "..") {
		return usagef("--keep-previous %q: want a name in DEST's directory, without '/'", *keep)
	}
	dest := parseEntry(operands[1])
	if !dest.isEntry() {
		return usagef("DEST %q: want a name to install the tree under, not \"/\", \".\" or \"..\"", dest.arg)
	}

	s, err := rf.open(operands)
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
	p := newProgress(e.stderr, "installing", true)
	var res dirfd.InstallResult
	opts := []dirfd.InstallOption{dirfd.Mode(srcInfo.Mode()), dirfd.Result(&res)}
	if *verify != "" {
		opts = append(opts, dirfd.Verify(func(stage *dirfd.Dir) error { return runVerify(e, *verify, stage) }))
	}
	if *keep != "" {
		opts = append(opts, dirfd.KeepPrevious(*keep))
	}
	copyOpts := []dirfd.CopyOption{dirfd.CopyInto(), dirfd.CopyProgress(func(files int, bytes int64) { p.update(int64(files), bytes) })}
	if *linkUnchanged {
		// The tree installed now, if any: NAME itself or, in the
		// versioned layout, what its symlink leads to, inside d.
		if prev, err := d.OpenDir(dest.name); err == nil {
			defer prev.Close()
			copyOpts = append(copyOpts, dirfd.LinkUnchanged(prev))
		}
	}
	build := func(stage *dirfd.Dir) error { return copyError(dirfd.CopyTree(stage, ".", src, ".", copyOpts...)) }
	err = d.Install(dest.name, build, opts...)
	if err != nil {
		p.done("")
		return installError(dest.arg, err)
	}
	p.done(fmt.Sprintf("installed %s (%s)", quote(dest.arg), layoutText(dest.arg, res)))
	return nil
}

// copyError names the entry of SRC_DIR a failed copy is about, by its
// path in SRC_DIR.
func copyError(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) && le.Old != "." {
		return fmt.Errorf("%s: %s", le.Old, explain(le.Err))
	}
	return err
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
		return fmt.Sprintf("versioned layout: the symlink was replaced atomically by one to %s", quote(dest+dirfd.VersionsSuffix+"/"+res.Version))
	case res.Layout == dirfd.LayoutVersioned:
		return fmt.Sprintf("versioned layout: a new symlink to %s", quote(dest+dirfd.VersionsSuffix+"/"+res.Version))
	}
	return res.Layout.String()
}
