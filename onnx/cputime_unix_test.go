//go:build unix

package onnx

import (
	"syscall"
	"time"
)

// processCPU returns the user+system CPU time of this process, so
// benchmarks can report CPU per operation beside wall time on a shared,
// loaded machine.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
