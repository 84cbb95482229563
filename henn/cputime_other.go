//go:build !unix

package henn

import "time"

// cpuTime is unavailable here; CPU figures read as zero.
func cpuTime() time.Duration { return 0 }
