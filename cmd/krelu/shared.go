package main

import "github.com/krelu/krelu/internal/shareddata"

// sharedDir returns the read-only shared data folder, or "" when it cannot
// be located (commands then report the missing file by name).
func sharedDir() string {
	d, _ := shareddata.Dir()
	return d
}
