package loadtest

import (
	"context"
	lg "github.com/krelu/krelu/internal/logits"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/serve"
)

// TestSmoke is the load test in miniature: 3 clients for at most 3 s or
// 12 requests against a toy model; every answer's class is checked
// against the plaintext forward pass.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("three clients' keys skipped in -short mode")
	}
	r := rand.New(rand.NewPCG(1, 1))
	d := func(out, in int) henn.Dense {
		w := make([][]float64, out)
		for i := range w {
			w[i] = make([]float64, in)
			for j := range w[i] {
				w[i][j] = r.NormFloat64() / 3
			}
		}
		return henn.Dense{W: w, B: make([]float64, out)}
	}
	net := henn.Network{InputDim: 12, Layers: []henn.Layer{d(8, 12), henn.Poly{Coeffs: approx.Poly{0.2, 0.5, 0.2}}, d(3, 8)}}
	m, err := henn.Compile(net, henn.Options{Mode: henn.Packed})
	if err != nil {
		t.Fatal(err)
	}
	h, err := serve.New(m, serve.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ts := httptest.NewServer(h)
	defer ts.Close()
	inputs := make([][]float64, 20)
	want := make([]int, len(inputs))
	for i := range inputs {
		inputs[i] = make([]float64, 12)
		for j := range inputs[i] {
			inputs[i][j] = r.Float64()
		}
		y, err := net.Forward(inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = lg.Argmax(y)
	}
	res, err := Run(context.Background(), Options{URL: ts.URL, Clients: 3, Duration: 3 * time.Second, MaxRequests: 12,
		Batch: 4, Inputs: inputs, Want: want, ServerPID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", *res)
	if res.Requests == 0 || res.Requests > 12 || res.Errors != 0 || res.Sessions != 3 {
		t.Errorf("requests %d (want 1…12), errors %d %v, sessions %d (want 3)", res.Requests, res.Errors, res.ErrorSamples, res.Sessions)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.PeakRSS <= 0 {
		t.Errorf("p50 %g, p99 %g, peak RSS %d", res.P50, res.P99, res.PeakRSS)
	}
}

func TestOptionsChecked(t *testing.T) {
	in := [][]float64{{1}}
	for _, o := range []Options{
		{URL: "http://10.1.2.3:80", Clients: 1, Duration: time.Second, MaxRequests: 1, Batch: 1, Inputs: in},
		{URL: "http://example.com", Clients: 1, Duration: time.Second, MaxRequests: 1, Batch: 1, Inputs: in},
		{URL: "http://127.0.0.1:1", Clients: 0, Duration: time.Second, MaxRequests: 1, Batch: 1, Inputs: in},
		{URL: "http://127.0.0.1:1", Clients: 1, Duration: 2 * time.Hour, MaxRequests: 1, Batch: 1, Inputs: in},
		{URL: "http://127.0.0.1:1", Clients: 1, Duration: time.Second, MaxRequests: 0, Batch: 1, Inputs: in},
	} {
		if err := o.Check(); err == nil || !strings.Contains(err.Error(), "loadtest") {
			t.Errorf("%+v: %v; want an error", o, err)
		}
	}
}
