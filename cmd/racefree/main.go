// Command racefree offers racefree's race-free filesystem operations to
// shell users, following coreutils conventions where they exist.
//
// Usage:
//
//	racefree caps [--json] [DIR]
//	racefree resolve [--root DIR] [--mode beneath|in-root|no-symlinks] PATH
//
// caps reports which race-free primitives the kernel offers, and with DIR,
// which ones DIR's filesystem honours (probed in a private scratch
// directory that is removed again). resolve shows where PATH lands inside
// the root directory, or why it is refused.
//
// Every command exits 0 on success, 1 when the operation failed and 2 on a
// usage error, and reports errors on standard error as
// "racefree: CMD: reason".
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
	{"resolve", "[--root DIR] [--mode beneath|in-root|no-symlinks] PATH", "show where PATH lands inside the root, or why it is refused", runResolve},
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
// tools do) until "--", and returns the operands. -h and --help print the
// command's usage to e.stdout and return errHelp.
func parseFlags(fs *flag.FlagSet, e *env, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printFlagsUsage(fs, e)
				return nil, errHelp
			}
			return nil, &usageError{err.Error()}
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

func printFlagsUsage(fs *flag.FlagSet, e *env) {
	w := e.stdout
	if c := e.cmd; c != nil {
		fmt.Fprintf(w, "usage: %s %s %s\n\n%s\n\n", programName, c.name, c.synopsis, c.summary)
	}
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
