// Package loadtest drives a krelu serve server with concurrent encrypted
// clients for a bounded time and number of requests, and reports requests,
// errors, latency percentiles and the server's peak resident memory. It
// backs scripts/serve_load.sh (the figures of docs/serve.md) and a short
// smoke test. It only talks to loopback addresses.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	lg "github.com/krelu/krelu/internal/logits"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/krelu/krelu/serve"
)

// Options configure Run.
type Options struct {
	URL         string        // server base URL; its host must be a loopback address
	Clients     int           // concurrent clients, each with its own keys
	Duration    time.Duration // stop starting requests after this long
	MaxRequests int           // stop after this many inference requests in all
	Batch       int           // inputs per request
	// Inputs are cycled through; Want, when set, is the expected argmax
	// of each input (a wrong class counts as an error).
	Inputs [][]float64
	Want   []int
	// ServerPID, when > 0, is the process whose peak RSS is reported
	// (Linux /proc).
	ServerPID int
}

// Result is what Run measured.
type Result struct {
	Clients      int      `json:"clients"`
	Seconds      float64  `json:"seconds"`
	Requests     int64    `json:"requests"`
	Inputs       int64    `json:"inputs_classified"`
	Errors       int64    `json:"errors"`
	Mismatches   int64    `json:"wrong_class"`
	Sessions     int64    `json:"sessions_created"`
	P50          float64  `json:"latency_p50_seconds"`
	P99          float64  `json:"latency_p99_seconds"`
	Max          float64  `json:"latency_max_seconds"`
	SetupP50     float64  `json:"session_setup_p50_seconds"`
	PeakRSS      int64    `json:"server_peak_rss_bytes"` // VmHWM
	ErrorSamples []string `json:"error_samples,omitempty"`
}

// Check validates o.
func (o Options) Check() error {
	u, err := url.Parse(o.URL)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("loadtest: server %q: want http://127.0.0.1:PORT", o.URL)
	}
	if ip := net.ParseIP(u.Hostname()); (ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost" {
		return fmt.Errorf("loadtest: server %q is not a loopback address; the load test only runs against this machine", o.URL)
	}
	switch {
	case o.Clients < 1 || o.Clients > 64:
		return fmt.Errorf("loadtest: %d clients: want 1…64", o.Clients)
	case o.Duration <= 0 || o.Duration > time.Hour:
		return fmt.Errorf("loadtest: duration %v: want (0, 1h]", o.Duration)
	case o.MaxRequests < 1:
		return fmt.Errorf("loadtest: max requests %d: want ≥ 1", o.MaxRequests)
	case o.Batch < 1:
		return fmt.Errorf("loadtest: batch %d: want ≥ 1", o.Batch)
	case len(o.Inputs) == 0:
		return errors.New("loadtest: no inputs")
	case o.Want != nil && len(o.Want) != len(o.Inputs):
		return fmt.Errorf("loadtest: %d expected classes for %d inputs", len(o.Want), len(o.Inputs))
	}
	return nil
}

// Run drives the server until Duration has passed or MaxRequests were
// made; sessions being set up and requests in flight then finish (bounded
// by the HTTP timeout), and each client makes at least one request.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var (
		mu        sync.Mutex
		lat, sets []float64
		res       = &Result{Clients: o.Clients}
		issued    atomic.Int64
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		res.Errors++
		if len(res.ErrorSamples) < 5 {
			res.ErrorSamples = append(res.ErrorSamples, err.Error())
		}
		mu.Unlock()
	}
	stopRSS := make(chan struct{})
	rssDone := make(chan int64)
	go func() { rssDone <- watchRSS(o.ServerPID, stopRSS) }()
	hc := &http.Client{Timeout: 10 * time.Minute}
	start := time.Now()
	for k := range o.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &serve.Client{BaseURL: o.URL, HTTP: hc}
			var sess *serve.Session
			next := k * o.Batch // clients start at different inputs
			// Every client makes at least one request: the duration bounds
			// the start of further ones.
			for first := true; first || ctx.Err() == nil; first = false {
				if sess == nil {
					t0 := time.Now()
					s, err := c.NewSession(context.WithoutCancel(ctx))
					if err != nil {
						fail(fmt.Errorf("session: %w", err))
						time.Sleep(time.Second) // e.g. 503 full: back off
						continue
					}
					sess = s
					mu.Lock()
					res.Sessions++
					sets = append(sets, time.Since(t0).Seconds())
					mu.Unlock()
				}
				if issued.Add(1) > int64(o.MaxRequests) {
					return
				}
				batch := make([][]float64, o.Batch)
				idx := make([]int, o.Batch)
				for i := range batch {
					idx[i] = next % len(o.Inputs)
					batch[i] = o.Inputs[idx[i]]
					next++
				}
				t0 := time.Now()
				logits, err := sess.Classify(context.WithoutCancel(ctx), batch)
				d := time.Since(t0).Seconds()
				if err != nil {
					fail(err)
					if strings.Contains(err.Error(), "404") {
						sess = nil // evicted: register again
					}
					continue
				}
				var wrong int64
				for i, l := range logits {
					if o.Want != nil && lg.Argmax(l) != o.Want[idx[i]] {
						wrong++
					}
				}
				mu.Lock()
				res.Requests++
				res.Inputs += int64(len(batch))
				lat = append(lat, d)
				if wrong > 0 {
					res.Mismatches += wrong
					res.Errors++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	close(stopRSS)
	res.PeakRSS = <-rssDone
	res.P50, res.P99, res.Max = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 1)
	res.SetupP50 = quantile(sets, 0.5)
	return res, nil
}

// quantile is the nearest-rank q-quantile of v (0 when empty).
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// watchRSS returns the peak resident set (VmHWM) of pid when stop closes;
// it also samples VmRSS each second in case VmHWM is unavailable.
func watchRSS(pid int, stop chan struct{}) int64 {
	if pid <= 0 {
		<-stop
		return 0
	}
	var peak int64
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		if v := procStatus(pid, "VmRSS:"); v > peak {
			peak = v
		}
		select {
		case <-stop:
			return max(peak, procStatus(pid, "VmHWM:"))
		case <-t.C:
		}
	}
}

// procStatus reads one "Key: N kB" line of /proc/pid/status, in bytes.
func procStatus(pid int, key string) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
