package he

import (
	"runtime"
	"syscall"
	"time"
)

// rusageThread is RUSAGE_THREAD (Linux ≥ 2.6.26): CPU time of the calling
// thread only.
const rusageThread = 1

// threadTimer measures the CPU time the calling goroutine spends, pinned
// to its OS thread. On a machine shared with other jobs wall-clock time
// swings with their load; a single-threaded homomorphic operation's CPU
// time does not (much).
type threadTimer struct{ start time.Duration }

func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
