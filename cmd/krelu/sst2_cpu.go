package main

import "github.com/krelu/krelu/internal/cputime"

// processCPU is the user+system CPU time of this process so far and
// whether the system can tell: on a shared machine it measures the
// encrypted work better than wall time.
var processCPU = cputime.Process
