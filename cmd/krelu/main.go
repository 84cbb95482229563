// Command krelu fits, measures and runs HE-friendly polynomial activations.
//
// Each subcommand lives in its own file and registers itself in an init
// function, so that adding a command never touches this file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one `krelu NAME` subcommand.
type command struct {
	name    string
	summary string
	// run executes the command. It returns errUsage (possibly wrapped) for
	// bad flags, any other error for failures; it never calls os.Exit.
	run func(args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("krelu: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks errors caused by how the command was called.
var errUsage = errors.New("usage")

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("krelu "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	setUsage(fs, stderr, "krelu "+name+" [flags]", "")
	return fs
}

// setUsage makes -h print a synopsis line, the flags and help: the flag
// package's default ("Usage of krelu X:") names no required flag.
func setUsage(fs *flag.FlagSet, stderr io.Writer, synopsis, help string) {
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: "+synopsis)
		fs.PrintDefaults()
		fmt.Fprint(stderr, help)
	}
}

// parseFlags parses args and wraps failures in errUsage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: krelu COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'krelu COMMAND -h' for the flags of a command.")
}

// krelu runs the CLI and returns the process exit code.
func krelu(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "krelu: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "krelu %s: %v\n", c.name, err)
		return 2
	default:
		fmt.Fprintf(stderr, "krelu %s: %v\n", c.name, err)
		return 1
	}
}

func main() {
	os.Exit(krelu(os.Args[1:], os.Stdout, os.Stderr))
}
