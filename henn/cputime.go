package henn

import (
	"time"

	"github.com/krelu/krelu/internal/cputime"
)

// cpuTime is the process's user+system CPU time so far (zero where the
// system cannot tell); timings on a shared machine are reported both as
// wall clock and as CPU time.
func cpuTime() time.Duration {
	d, _ := cputime.Process()
	return d
}
