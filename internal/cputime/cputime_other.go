//go:build !unix

package cputime

import (
	"runtime"
	"time"
)

// Process reports false: this system offers no process CPU clock here.
func Process() (time.Duration, bool) { return 0, false }

// PeakRSS reports false: this system offers no peak resident set here.
func PeakRSS() (int64, bool) { return 0, false }

// Thread falls back to wall-clock time where per-thread CPU time is not
// available.
type Thread struct{ wall time.Time }

// StartThread pins the calling goroutine to its OS thread and starts
// timing it.
func StartThread() Thread {
	runtime.LockOSThread()
	return Thread{wall: time.Now()}
}

// Stop returns the wall time since StartThread and unpins the goroutine.
func (t Thread) Stop() time.Duration {
	defer runtime.UnlockOSThread()
	return time.Since(t.wall)
}
