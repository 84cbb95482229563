package serve

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/henn"
)

// mnistNet is a random 784-128-10 MLP with a quadratic activation: the
// shape (and so the keys and encoded weights) of the served MNIST model.
func mnistNet() henn.Network {
	r := rand.New(rand.NewPCG(5, 6))
	dense := func(out, in int) henn.Dense {
		d := henn.Dense{W: make([][]float64, out), B: make([]float64, out)}
		for i := range d.W {
			d.W[i] = make([]float64, in)
			for j := range d.W[i] {
				d.W[i][j] = r.NormFloat64() / math.Sqrt(float64(in))
			}
		}
		return d
	}
	return henn.Network{InputDim: 784, Layers: []henn.Layer{dense(128, 784), henn.Poly{Coeffs: approx.Poly{0.1, 0.5, 0.25}}, dense(10, 128)}}
}

func liveHeap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestSessionMemory measures what a session of the 784-128-10 MNIST model
// (packed layout, the krelu serve default) holds on the server, and checks
// that the live heap grows by its key material and little else: the
// encoded weights are shared, and no per-Galois-element templates are kept.
// Its log is the breakdown in docs/serve.md:
//
//	go test -run TestSessionMemory -v ./serve
func TestSessionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("three MNIST-sized key sets skipped in -short mode")
	}
	m, err := henn.Compile(mnistNet(), henn.Options{Mode: henn.Packed})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ts := httptest.NewServer(h)
	defer ts.Close()
	const mb = 1e6
	t.Logf("model: LogN %d, %d levels, %d rotation keys; encoded weights (shared by all sessions) %.1f MB",
		m.Params().LogN(), m.Depth(), len(m.Rotations()), float64(h.Stats().WeightsBytes)/mb)

	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	ctx := context.Background()
	base := liveHeap()
	var sessions []*Session
	const n = 3
	for i := range n {
		s, err := c.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Classify(ctx, [][]float64{make([]float64, 784)}); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
		if i == 0 {
			hc, _ := henn.NewClient(m.Params())
			evk, _ := hc.EvaluationKeys(m.Rotations())
			var pk, rlk bytes.Buffer
			b, _ := evk.Public.MarshalBinary()
			pk.Write(b)
			b, _ = evk.Relin.MarshalBinary()
			rlk.Write(b)
			gal := evk.Size() - int64(pk.Len()+rlk.Len())
			t.Logf("keys per session: %.1f MB = Galois %.1f MB (%d × %.2f MB) + relinearization %.2f MB + public %.2f MB; upload %.1f MB",
				float64(evk.Size())/mb, float64(gal)/mb, len(m.Rotations()), float64(gal)/float64(len(m.Rotations()))/mb,
				float64(rlk.Len())/mb, float64(pk.Len())/mb, float64(s.KeyBytes)/mb)
		}
	}
	grown := liveHeap() - base
	st := h.Stats()
	per := float64(grown) / n
	keys := float64(st.KeyBytes) / n
	t.Logf("live heap: +%.1f MB for %d sessions, %.1f MB per session, of which keys %.1f MB (%.0f %%); the rest is evaluator state and buffers",
		float64(grown)/mb, n, per/mb, keys/mb, 100*keys/per)
	if st.Sessions != n {
		t.Fatalf("%d sessions held, want %d", st.Sessions, n)
	}
	// The test client's own secret keys and ciphertexts are in the same
	// heap; they are small next to the evaluation keys.
	if per > 1.25*keys+8*mb {
		t.Errorf("a session grows the live heap by %.1f MB for %.1f MB of keys", per/mb, keys/mb)
	}
	runtime.KeepAlive(sessions)
}
