package henn

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// mnistMLP is a 784-128-10 network with random weights: the timing does
// not depend on the values (only nonzero diagonals matter, and random
// weights have them all).
func mnistMLP() Network { return smallMLP(7, 784, 128, 10) }

type benchRig struct {
	keyMB  float64
	m      *Model
	client *Client
	server *Server
}

func newRig(b *testing.B, m *Model) *benchRig {
	b.Helper()
	c, evk := keyed(b, m)
	s, err := NewServer(m, evk)
	if err != nil {
		b.Fatal(err)
	}
	return &benchRig{m: m, client: c, server: s, keyMB: float64(evk.KeySet().BinarySize()) / 1e6}
}

// roundTrip times encrypt → evaluate → decrypt of inputs and reports the
// server time and the amortized time per input.
func (r *benchRig) roundTrip(b *testing.B, inputs [][]float64) {
	b.Helper()
	var eval time.Duration
	var inBytes, outBytes int64
	cpu0 := cpuTime()
	for b.Loop() {
		in, err := r.client.EncryptBatch(r.m.Layout(), inputs)
		if err != nil {
			b.Fatal(err)
		}
		inBytes = in.BinarySize()
		t0 := time.Now()
		out, err := r.server.Evaluate(in)
		if err != nil {
			b.Fatal(err)
		}
		eval += time.Since(t0)
		outBytes = out.BinarySize()
		if _, err := r.client.DecryptLogits(r.m.Layout(), out); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(r.keyMB, "keyMB")
	b.ReportMetric(float64(inBytes)/1e6, "inMB")
	b.ReportMetric(float64(outBytes)/1e6, "outMB")
	b.ReportMetric(eval.Seconds()/n, "server-s/op")
	b.ReportMetric(b.Elapsed().Seconds()/n/float64(len(inputs))*1e3, "ms/image")
	// Under load the wall clock overstates the cost; CPU time/2 is what a
	// quiet 2-core machine would take for fully parallel work.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/n/float64(len(inputs))*1e3, "cpu-ms/image")
}

// BenchmarkMNISTMLP: go test ./henn -run '^$' -bench MNISTMLP -benchtime 3x
func BenchmarkMNISTMLP(b *testing.B) {
	net := mnistMLP()
	r := rand.New(rand.NewPCG(9, 9))
	b.Run("packed/single", func(b *testing.B) {
		m, err := Compile(net, Options{Mode: Packed})
		if err != nil {
			b.Fatal(err)
		}
		newRig(b, m).roundTrip(b, randInputs(r, 1, 784))
	})
	b.Run("packed/replicated-single", func(b *testing.B) {
		m, err := Compile(net, Options{Mode: Packed, Replicate: true})
		if err != nil {
			b.Fatal(err)
		}
		newRig(b, m).roundTrip(b, randInputs(r, 1, 784))
	})
	b.Run("packed/full", func(b *testing.B) {
		m, err := Compile(net, Options{Mode: Packed})
		if err != nil {
			b.Fatal(err)
		}
		newRig(b, m).roundTrip(b, randInputs(r, m.Layout().Stride, 784))
	})
	b.Run("slots/full", func(b *testing.B) {
		m, err := Compile(net, Options{Mode: Slots})
		if err != nil {
			b.Fatal(err)
		}
		newRig(b, m).roundTrip(b, randInputs(r, m.Layout().Stride, 784))
	})
}

// BenchmarkFFNBlock: go test ./henn -run '^$' -bench FFNBlock -benchtime 3x
// d = 100 (GloVe), hidden = 4·d rounded, 64 tokens, 2 classes.
func BenchmarkFFNBlock(b *testing.B) {
	for _, c := range []struct{ dim, hidden int }{{64, 256}, {100, 400}} {
		b.Run(fmt.Sprintf("d%d-h%d-T64", c.dim, c.hidden), func(b *testing.B) {
			blk := smallFFN(13, c.dim, c.hidden, 2, true)
			m, err := CompileFFN(blk, Options{MaxTokens: 64})
			if err != nil {
				b.Fatal(err)
			}
			r := newRig(b, m)
			sent := randSentences(rand.New(rand.NewPCG(1, 1)), 1, 1, c.dim)
			for len(sent[0]) < 64 {
				sent[0] = append(sent[0], sent[0][0])
			}
			cpu0 := cpuTime()
			var eval time.Duration
			for b.Loop() {
				in, err := r.client.EncryptSentences(m.Layout(), sent)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				out, err := r.server.Evaluate(in)
				if err != nil {
					b.Fatal(err)
				}
				eval += time.Since(t0)
				if _, err := r.client.DecryptLogits(m.Layout(), out); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			b.ReportMetric(eval.Seconds()/n, "server-s/op")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/n, "cpu-s/op")
			b.ReportMetric(r.keyMB, "keyMB")
		})
	}
}

// BenchmarkEncoder: the whole HE-friendly encoder on one encrypted
// sentence at the real shape (Dim 64, 4 heads, hidden 128, 64 tokens, 2
// classes), 1 layer (N14-L9) and 2 layers (N15-L17); keys made once.
// s/sentence is encrypt+evaluate+decrypt wall time, cpu-s/sentence the
// process CPU time.
//
//	nice -n 10 go test ./henn -run '^$' -bench Encoder -benchtime 3x -timeout 60m
func BenchmarkEncoder(b *testing.B) {
	for _, layers := range []int{1, 2} {
		b.Run(fmt.Sprintf("layers%d", layers), func(b *testing.B) {
			e := randEncoder(11, 64, 4, 128, 64, layers, 2)
			g := newEncoderRig(b, e, Options{Workers: 2})
			x := randSentence(rand.New(rand.NewPCG(1, 2)), 40, 64)
			cpu0 := cpuTime()
			var eval time.Duration
			for b.Loop() {
				in, err := g.client.EncryptEncoderInput(g.m.Layout(), x)
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				out, err := g.server.Evaluate(in)
				if err != nil {
					b.Fatal(err)
				}
				eval += time.Since(t0)
				if _, err := g.client.DecryptEncoderLogits(g.m.Layout(), out); err != nil {
					b.Fatal(err)
				}
			}
			n := float64(b.N)
			b.ReportMetric(b.Elapsed().Seconds()/n, "s/sentence")
			b.ReportMetric(eval.Seconds()/n, "server-s/sentence")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/n, "cpu-s/sentence")
			b.ReportMetric(float64(g.evk.Size())/1e6, "keyMB")
			b.ReportMetric(float64(len(g.m.Rotations())), "rotation-keys")
		})
	}
}
