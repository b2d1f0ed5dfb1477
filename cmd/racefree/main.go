// Command racefree offers racefree's race-free filesystem operations to
// shell users, following coreutils conventions where they exist.
//
// Usage:
//
//	racefree caps [--json] [DIR]
//	racefree ln [-s] [-f] [-T] TARGET... LINK|DIR
//	racefree mv [--exchange | -n] SRC DST
//	racefree rm [-r] [-f] PATH...
//	racefree chown [-R] OWNER[:GROUP] PATH...
//	racefree chmod [-R] MODE PATH...
//	racefree cp -a [--special] SRC DST | -a [--special] SRC... DIR
//	racefree install [--verify CMD] [--keep-previous NAME] [--link-unchanged] SRC_DIR DEST
//	racefree write [--mode M] DEST
//	racefree extract [--atomic] [--root DIR | --in-root DIR] [--owners] [--whiteouts] [--max-files N] [--max-bytes N] ARCHIVE DEST
//	racefree resolve [--root DIR | --in-root DIR] [--mode beneath|in-root|no-symlinks] PATH
//	racefree demo [--seconds N]
//
// caps reports which race-free primitives the kernel offers, and with DIR,
// which ones DIR's filesystem honours (probed in a private scratch
// directory that is removed again). resolve shows where PATH lands inside
// the root directory, or why it is refused.
//
// ln, mv, rm, chown, chmod, cp and write follow coreutils. Each resolves the
// directory that holds an operand's last component once, and from then on
// acts only through a descriptor of that directory, so nothing another
// user does to the names meanwhile can redirect the operation: ln -f
// replaces a link atomically (readers never see the name missing), mv
// --exchange swaps two names atomically, rm removes only the object it
// examined, and write publishes a complete, synced file or nothing. rm -r,
// chown -R and chmod -R walk the tree by descriptor, never follow a
// symlink, never enter another mount, and go on past an entry they cannot
// change, reporting the first failure at the end. cp -a reads the source
// only through descriptors and never replaces an existing name.
//
// install copies SRC_DIR as cp -a would (files, directories, symlinks, hard
// links, modes, times, and owners when run as root) into a private staging
// directory next to DEST, runs the --verify command on it, and publishes it
// as DEST all at once: readers see the whole old tree or the whole new one,
// and a failure or a crash at any point leaves the old tree as it was.
//
// Every command that takes paths accepts --root DIR: its operands are then
// resolved inside DIR, and one that leads out of it (through "..", an
// absolute name or a symlink) is refused; --in-root DIR resolves them as
// if DIR were / (for a container's rootfs). Without either, operands are
// paths resolved as any shell tool resolves them.
//
// Names and link targets are printed as they are when every character is
// printable, and as a quoted string ("a\nb") otherwise, so that no file
// name can forge a line of output or reach the terminal as an escape
// sequence. Long tree jobs show their progress on standard error when it
// is a terminal.
//
// Every command exits 0 on success, 1 when the operation failed and 2 on a
// usage error, and reports errors on standard error as
// "racefree: CMD: reason". Short flags may be combined (-sf, -rf).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/racefree/racefree/capability"
)

// Exit codes shared by every command.
const (
	exitOK      = 0 // success
	exitFailed  = 1 // the operation failed
	exitUsage   = 2 // the command line was wrong
	programName = "racefree"
)

// command is one subcommand. run parses its own arguments (with a
// flag.FlagSet from newFlags) and returns nil, a *usageError, or the
// error that made the operation fail.
type command struct {
	name     string
	synopsis string // arguments, as shown in the usage text
	summary  string // one line
	run      func(env *env, args []string) error
}

// commands is the dispatch table: one line per subcommand, in the order the
// usage text lists them. Each command lives in a file named after it.
var commands = []command{
	{"caps", "[--json] [DIR]", "report which race-free primitives the kernel and DIR's filesystem offer", runCaps},
	{"ln", "[-s] [-f] [-T] TARGET... LINK|DIR", "make links; with -f an existing LINK is replaced atomically", runLn},
	{"mv", "[--exchange | -n] SRC DST", "rename SRC to DST, swap them atomically (--exchange), or never replace DST (-n)", runMv},
	{"rm", "[-r] [-f] PATH...", "remove each PATH, only if it is still the object examined; -r removes trees without following symlinks", runRm},
	{"install", "[--verify CMD] [--keep-previous NAME] [--link-unchanged] SRC_DIR DEST", "copy SRC_DIR to DEST all at once: readers see the whole old tree or the whole new one", runInstall},
	{"chown", "[-R] OWNER[:GROUP] PATH...", "change the owner and group of each PATH (-R: and of everything below it), symlinks themselves, never followed", runChown},
	{"chmod", "[-R] MODE PATH...", "change the mode of each PATH (-R: and of everything below it) as chmod(1) does, symbolic modes and X included; symlinks are neither changed nor followed", runChmod},
	{"cp", "-a [--special] SRC DST | -a [--special] SRC... DIR", "copy as cp -a does, reading the source only through descriptors; never replaces anything", runCp},
	{"write", "[--mode M] DEST", "write standard input to DEST atomically and durably", runWrite},
	{"extract", "[--atomic] [--root DIR | --in-root DIR] [--owners] [--whiteouts] [--max-files N] [--max-bytes N] ARCHIVE DEST", "unpack a tar or zip ARCHIVE (- for standard input) into DEST, never outside it", runExtract},
	{"resolve", "[--root DIR | --in-root DIR] [--mode beneath|in-root|no-symlinks] PATH", "show where PATH lands inside the root, or why it is refused", runResolve},
	{"demo", "[--seconds N]", "run the symlink-exchange attack (CVE-2018-15664) live against a naive writer and against racefree", runDemo},
}

// env is what a command may use besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cmd            *command // the command being run, for its usage text
}

// usageError is a mistake on the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errHelp reports that the user asked for help and it has been printed.
var errHelp = errors.New("help requested")

// errReported says that the command failed and has already reported each
// failure with env.report (commands that go on after a failed operand, as
// coreutils do).
var errReported = errors.New("failures reported")

// report prints a failure of the running command that does not end it.
func (e *env) report(err error) {
	fmt.Fprintf(e.stderr, "%s: %s: %v\n", programName, e.cmd.name, err)
}

func main() {
	os.Exit(run(os.Args[1:], &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}))
}

// run dispatches args to a command and returns the exit status.
func run(args []string, e *env) int {
	if len(args) == 0 {
		usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(e.stdout)
		return exitOK
	}
	for _, u := range capability.UnknownDisabled() {
		fmt.Fprintf(e.stderr, "%s: warning: %s names an unknown feature %q (ignored)\n", programName, capability.EnvDisable, u)
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		e.cmd = &c
		err := c.run(e, args[1:])
		var ue *usageError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, errHelp):
			return exitOK
		case errors.Is(err, errReported):
			return exitFailed
		case errors.As(err, &ue):
			fmt.Fprintf(e.stderr, "%s: %s: %v\n", programName, c.name, err)
			fmt.Fprintf(e.stderr, "usage: %s %s %s\n", programName, c.name, c.synopsis)
			return exitUsage
		default:
			fmt.Fprintf(e.stderr, "%s: %s: %v\n", programName, c.name, err)
			return exitFailed
		}
	}
	fmt.Fprintf(e.stderr, "%s: unknown command %q\n", programName, args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s COMMAND [ARGS]\n\ncommands:\n", programName)
	for _, c := range commands {
		fmt.Fprintf(w, "  %s %s\n      %s\n", c.name, c.synopsis, c.summary)
	}
	fmt.Fprintf(w, "\nEvery command that takes paths also accepts --root DIR (operands are resolved inside DIR\nand may not leave it) or --in-root DIR (as if DIR were /).\n")
	fmt.Fprintf(w, "\nExit status: 0 success, 1 the operation failed, 2 usage error.\n")
}

// newFlags returns a flag set for command name that reports nothing itself:
// parseFlags turns its errors into usage errors.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(programName+" "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args with fs, allowing flags after operands (as GNU
// tools do) until "--", and returns the operands. Single-letter boolean
// flags may be combined ("-sf"). -h and --help print the command's usage to
// e.stdout and return errHelp.
func parseFlags(fs *flag.FlagSet, e *env, args []string) ([]string, error) {
	args = splitCombined(fs, args)
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printFlagsUsage(fs, e)
				return nil, errHelp
			}
			// The flag package repeats the argument as given.
			msg := err.Error()
			if !printable(msg) {
				msg = quote(msg)
			}
			return nil, &usageError{msg}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return operands, nil
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(operands, rest...), nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// splitCombined rewrites combined single-letter boolean flags ("-rf") as
// separate ones ("-r", "-f"), which package flag does not understand. An
// argument is split only if it is not a flag itself and every letter is a
// boolean flag of fs; "--" ends the flags.
func splitCombined(fs *flag.FlagSet, args []string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if !combinedFlags(fs, a) {
			out = append(out, a)
			continue
		}
		for _, c := range a[1:] {
			out = append(out, "-"+string(c))
		}
	}
	return out
}

func combinedFlags(fs *flag.FlagSet, a string) bool {
	if len(a) < 3 || a[0] != '-' || a[1] == '-' || fs.Lookup(a[1:]) != nil {
		return false
	}
	for _, c := range a[1:] {
		f := fs.Lookup(string(c))
		if f == nil {
			return false
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !b.IsBoolFlag() {
			return false
		}
	}
	return true
}

func printFlagsUsage(fs *flag.FlagSet, e *env) {
	w := e.stdout
	if c := e.cmd; c != nil {
		fmt.Fprintf(w, "usage: %s %s %s\n\n%s\n\n", programName, c.name, c.synopsis, c.summary)
	}
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
