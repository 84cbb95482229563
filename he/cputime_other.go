//go:build !linux

package he

import "time"

// threadTimer falls back to wall-clock time where per-thread CPU time is
// not available.
type threadTimer struct{ start time.Time }

func startThreadTimer() threadTimer { return threadTimer{time.Now()} }

func (t threadTimer) stop() time.Duration { return time.Since(t.start) }
