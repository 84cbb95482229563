package he

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTimeID is CLOCK_THREAD_CPUTIME_ID: CPU time of the
// calling thread, to the nanosecond. getrusage(RUSAGE_THREAD) was used
// before, but its utime+stime does not advance smoothly over short
// intervals (the kernel splits it by ticks and keeps each part monotone):
// a 0.16 ms activation measured 0 CPU seconds and its ratios came out as
// +Inf or NaN.
const clockThreadCPUTimeID = 3

// threadTimer measures the CPU time the calling goroutine spends, pinned
// to its OS thread. On a machine shared with other jobs wall-clock time
// swings with their load; a single-threaded homomorphic operation's CPU
// time does not (much).
type threadTimer struct{ start time.Duration }

func threadCPU() time.Duration {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}

func startThreadTimer() threadTimer {
	runtime.LockOSThread()
	return threadTimer{threadCPU()}
}

// stop returns the CPU time since start and unpins the goroutine.
func (t threadTimer) stop() time.Duration {
	d := threadCPU() - t.start
	runtime.UnlockOSThread()
	return d
}
