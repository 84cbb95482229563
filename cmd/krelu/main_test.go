package main

import (
	"os"
	"testing"

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
	})
}
