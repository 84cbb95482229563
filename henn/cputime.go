//go:build unix

package henn

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time so far; timings on a
// shared machine are reported both as wall clock and as CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
