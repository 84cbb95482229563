package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the script tests run the krelu binary in-process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"krelu": func() { os.Exit(krelu(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar: the CLI as a user drives it.
// SHARED points at the read-only real data beside the project root.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("SHARED", sharedDir())
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){"badflag": badFlag},
	})
}

// badFlagLimit guards the catalogue against a command that starts real
// work on a bad value (a server that starts, a training that runs): the
// case fails instead of hanging. Validation takes milliseconds.
const badFlagLimit = 60 * time.Second

// rangeWords are the ways an error can state the allowed values.
var rangeWords = regexp.MustCompile(`want|must|range|between|one of|[≥≤<>]|\[|\(`)

// internals are texts that must never reach a user.
var internals = regexp.MustCompile(`panic|goroutine|gob|runtime\.|0x[0-9a-f]{6,}|\{[A-Z][A-Za-z]*:`)

// badFlag is the catalogue's script command:
//
//	badflag NAME ARGS...
//
// runs krelu ARGS... and requires a non-zero exit whose stderr names the
// flag --NAME (or -NAME) and the values it accepts, with no Go internals.
func badFlag(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: badflag NAME ARGS... (no !)")
	}
	name, kargs := args[0], args[1:]
	bin := ""
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		if p := filepath.Join(dir, "krelu"); fileExists(p) {
			bin = p
			break
		}
	}
	if bin == "" {
		ts.Fatalf("krelu not on the script's PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), badFlagLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, kargs...)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Env = os.Environ()
	for _, k := range []string{"HOME", "TMPDIR", "SHARED"} {
		cmd.Env = append(cmd.Env, k+"="+ts.Getenv(k))
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	msg := stderr.String()
	ts.Logf("krelu %s: %s", strings.Join(kargs, " "), strings.TrimSpace(msg))
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		ts.Fatalf("krelu %s still ran after %v: the bad value was not rejected before work started", strings.Join(kargs, " "), badFlagLimit)
	case err == nil:
		ts.Fatalf("krelu %s succeeded; want an error for --%s", strings.Join(kargs, " "), name)
	case !errors.As(err, &exit):
		ts.Fatalf("krelu %s: %v", strings.Join(kargs, " "), err)
	}
	if !regexp.MustCompile(`(^|[^-\w])--?` + regexp.QuoteMeta(name) + `\b`).MatchString(msg) {
		ts.Fatalf("stderr does not name --%s", name)
	}
	if !rangeWords.MatchString(msg) {
		ts.Fatalf("stderr does not say which values --%s accepts", name)
	}
	if m := internals.FindString(msg); m != "" {
		ts.Fatalf("stderr shows Go internals (%q)", m)
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
