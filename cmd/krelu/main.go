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
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"time"
)

// command is one `krelu NAME` subcommand.
type command struct {
	name    string
	summary string
	// subcommands: errors name "krelu NAME SUB", SUB being the first argument.
	subcommands bool
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
	// The flag package's own failure line ("invalid value … parse error")
	// is discarded: parseFlags reports the failure in krelu's words.
	fs.SetOutput(io.Discard)
	setUsage(fs, stderr, "krelu "+name+" [flags]", "")
	return fs
}

// setUsage makes -h print a synopsis line, the flags and help: the flag
// package's default ("Usage of krelu X:") names no required flag.
func setUsage(fs *flag.FlagSet, stderr io.Writer, synopsis, help string) {
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: "+synopsis)
		printFlags(fs, stderr)
		fmt.Fprint(stderr, help)
	}
}

// printFlags is fs.PrintDefaults without the hidden (deprecated) aliases.
func printFlags(fs *flag.FlagSet, w io.Writer) {
	vis := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	vis.SetOutput(w)
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, hiddenPrefix) {
			return
		}
		vis.Var(f.Value, f.Name, f.Usage)
		vis.Lookup(f.Name).DefValue = f.DefValue
	})
	vis.PrintDefaults()
}

// parseFlags parses args and wraps failures in errUsage.
// The usage is printed for -h only: after a bad flag the one-line error
// says what is wrong, and the usage would bury it.
func parseFlags(fs *flag.FlagSet, args []string) error {
	usage := fs.Usage
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage()
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, explainParseError(fs, err))
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

var invalidValue = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-(\S+): `)

// explainParseError turns the flag package's `invalid value "x" for flag
// -n: parse error` into the form of every other flag error, naming the
// values the flag accepts.
func explainParseError(fs *flag.FlagSet, err error) error {
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		return fmt.Errorf("unknown flag --%s (%s -h lists the flags)", name, fs.Name())
	}
	m := invalidValue.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	f := fs.Lookup(m[2])
	if f == nil {
		return err
	}
	var want string
	var v any
	if g, ok := f.Value.(flag.Getter); ok {
		v = g.Get()
	}
	switch v.(type) {
	case int, int64:
		want = "an integer"
	case uint, uint64:
		want = "an integer ≥ 0"
	case float64:
		want = "a number"
	case time.Duration:
		want = "a duration such as 30s, 5m or 1h"
	case bool:
		want = "true or false (or no value)"
	default: // a custom flag: its own message says what it wants
		return fmt.Errorf("--%s %q: %s", m[2], m[1], strings.TrimPrefix(err.Error(), m[0]))
	}
	return fmt.Errorf("--%s %q: want %s", m[2], m[1], want)
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
	fmt.Fprintln(w, "Run 'krelu help COMMAND' (or 'krelu COMMAND -h') for the flags of a command,")
	fmt.Fprintln(w, "'krelu version' for the version. The grammar of all commands is in docs/cli.md.")
}

// krelu runs the CLI and returns the process exit code.
func krelu(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" && len(args) == 1 {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "help":
		// krelu help CMD [SUB]: the command's own -h, on stdout.
		c, ok := commands[args[1]]
		if !ok {
			fmt.Fprintf(stderr, "krelu help: unknown command %q\n", args[1])
			usage(stderr)
			return 2
		}
		if err := c.run(append(append([]string(nil), args[2:]...), "-h"), stdout, stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "krelu help %s: %v\n", c.name, err)
			return 2
		}
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "krelu: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	err := c.run(args[1:], stdout, stderr)
	name := c.name
	if c.subcommands && len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		name += " " + args[1]
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "krelu %s: %s\n", name, plainText(strings.TrimPrefix(err.Error(), errUsage.Error()+": ")))
		return 2
	default:
		fmt.Fprintf(stderr, "krelu %s: %s\n", name, plainText(err.Error()))
		return 1
	}
}

// goTypeWords names Go types in the words of a file format.
var goTypeWords = map[string]string{
	"int": "an integer", "int64": "an integer", "uint64": "an integer ≥ 0", "float64": "a number",
	"string": "a string", "bool": "true or false", "[]float64": "a list of numbers", "[]int": "a list of integers",
	"number": "a number", "array": "a list", "object": "an object",
}

var (
	jsonType   = regexp.MustCompile(`json: cannot unmarshal (\w+)(?: \S+)? into Go (?:struct field ([\w.]+)|value) of type (\S+)`)
	jsonSyntax = regexp.MustCompile(`(^|: )json: `)
)

// plainText is the last line of defence against Go internals in a
// message: the JSON decoder names Go struct fields and types ("cannot
// unmarshal string into Go struct field Activation.degree of type int"),
// which say nothing to a user; they become the field and the kind of
// value wanted. Packages should not produce such text in the first place.
func plainText(msg string) string {
	msg = jsonType.ReplaceAllStringFunc(msg, func(m string) string {
		g := jsonType.FindStringSubmatch(m)
		have, want := goTypeWords[g[1]], goTypeWords[g[3]]
		if have == "" {
			have = "a " + g[1]
		}
		if want == "" && strings.Contains(g[3], ".") && !strings.HasPrefix(g[3], "[]") {
			want = "an object"
		} else if want == "" {
			want = "another kind of value"
		}
		field := g[2]
		if i := strings.LastIndex(field, "."); i >= 0 {
			field = field[i+1:]
		}
		if field == "" {
			return fmt.Sprintf("the JSON value is %s, want %s", have, want)
		}
		return fmt.Sprintf("field %q is %s, want %s", field, have, want)
	})
	return jsonSyntax.ReplaceAllString(msg, "$1")
}

// versionString is the module version and the VCS commit the binary was
// built from, as recorded by the Go toolchain.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "krelu (no build information)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, when, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (modified)"
			}
		}
	}
	if rev == "" {
		rev = "unknown (built without VCS information)"
	} else if when != "" {
		rev += " " + when
	}
	return fmt.Sprintf("krelu %s %s, commit %s%s", bi.Main.Path, v, rev, dirty) + ", " + bi.GoVersion
}

func main() {
	os.Exit(krelu(os.Args[1:], os.Stdout, os.Stderr))
}
