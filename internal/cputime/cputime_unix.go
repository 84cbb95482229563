//go:build unix

package cputime

import (
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// Process returns the user+system CPU time of this process so far, and
// false where the system cannot tell.
func Process() (time.Duration, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// PeakRSS returns the peak resident set size of this process in bytes
// (getrusage's ru_maxrss), and false where the system cannot tell.
func PeakRSS() (int64, bool) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	if runtime.GOOS == "darwin" {
		return ru.Maxrss, true // bytes on macOS
	}
	return ru.Maxrss * 1024, true // KiB on Linux and the BSDs
}

// Thread times the CPU spent by one goroutine, pinned to its OS thread
// from StartThread until Stop.
type Thread struct {
	start time.Duration
	wall  time.Time
	ok    bool
}

// threadCPU reads CLOCK_THREAD_CPUTIME_ID. getrusage(RUSAGE_THREAD) was
// used before, but its utime+stime does not advance smoothly over short
// intervals (the kernel splits it by ticks and keeps each part monotone):
// a 0.16 ms activation measured 0 CPU seconds and its ratios came out as
// +Inf or NaN.
func threadCPU() (time.Duration, bool) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}

// StartThread pins the calling goroutine to its OS thread and starts
// timing it.
func StartThread() Thread {
	runtime.LockOSThread()
	d, ok := threadCPU()
	return Thread{start: d, wall: time.Now(), ok: ok}
}

// Stop returns the thread's CPU time since StartThread and unpins the
// goroutine. Where the thread clock is unavailable it returns wall time.
func (t Thread) Stop() time.Duration {
	defer runtime.UnlockOSThread()
	if d, ok := threadCPU(); ok && t.ok {
		return d - t.start
	}
	return time.Since(t.wall)
}
