package main

import (
	"os"
	"path/filepath"
)

// sharedDir returns the absolute path of the read-only data folder that sits
// beside the project root (../shared from the repository), or $KRELU_SHARED
// if set. from is any directory inside the repository.
func sharedDir(from string) string {
	if d := os.Getenv("KRELU_SHARED"); d != "" {
		return d
	}
	dir, _ := filepath.Abs(from)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return filepath.Join(from, "shared")
		}
		dir = parent
	}
}
