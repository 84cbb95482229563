package cputime

import (
	"testing"
	"time"
)

// spin burns CPU until the wall clock has advanced by d.
func spin(d time.Duration) (x float64) {
	for t0 := time.Now(); time.Since(t0) < d; {
		for i := 0; i < 1000; i++ {
			x += float64(i) * 1e-9
		}
	}
	return x
}

// Busy work advances both clocks, by no more than it could: a thread's CPU
// time never exceeds the wall time it ran, and sleeping costs (almost) none.
func TestClocksAdvanceWithWork(t *testing.T) {
	p0, ok := Process()
	if !ok {
		t.Skip("no process CPU clock on this system")
	}
	th := StartThread()
	w0 := time.Now()
	spin(20 * time.Millisecond)
	d := th.Stop()
	wall := time.Since(w0)
	if d <= 0 || d > wall+time.Millisecond {
		t.Errorf("thread CPU %v for %v of busy wall time", d, wall)
	}
	p1, _ := Process()
	if p1 <= p0 {
		t.Errorf("process CPU did not advance: %v then %v", p0, p1)
	}
	th = StartThread()
	time.Sleep(20 * time.Millisecond)
	if d := th.Stop(); d > 10*time.Millisecond {
		t.Errorf("sleeping 20ms cost %v of thread CPU", d)
	}
}

func TestThreadClockResolution(t *testing.T) {
	// 200 µs of work must read as nonzero CPU time: a tick-based clock
	// read 0 here and made he's report ratios infinite.
	th := StartThread()
	if d := th.Stop(); d < 0 {
		t.Errorf("negative thread CPU time %v", d)
	}
	th = StartThread()
	x := spin(200 * time.Microsecond)
	if d := th.Stop(); d <= 0 || x <= 0 {
		t.Errorf("thread CPU time %v for 200 µs of work", d)
	}
}
