// Package cputime measures CPU time, the figure krelu reports beside wall
// time because the machines its benchmarks run on are shared: another
// job's load stretches wall time but barely moves the CPU time a
// single-threaded homomorphic operation consumes.
//
// Process is the user+system time of the whole process (getrusage);
// StartThread/Stop time one goroutine pinned to its OS thread with
// CLOCK_THREAD_CPUTIME_ID, which advances to the nanosecond even over a
// sub-millisecond activation.
package cputime
