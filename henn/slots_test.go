package henn

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// slotsFixture is a Slots-mode server for an in→out dense layer and in
// encrypted features.
func slotsFixture(tb testing.TB, nin, nout int) (*Server, *Client, serverStage, []*rlwe.Ciphertext) {
	tb.Helper()
	r := rand.New(rand.NewPCG(71, 71))
	net := Network{InputDim: nin, Layers: []Layer{randDense(r, nout, nin, 1), kernelQuad, randDense(r, 2, nout, 1)}}
	m, err := Compile(net, Options{Mode: Slots})
	if err != nil {
		tb.Fatal(err)
	}
	c, s := parties(tb, m)
	in, err := c.EncryptBatch(m.Layout(), randInputs(r, 100, nin))
	if err != nil {
		tb.Fatal(err)
	}
	return s, c, s.steps[0], in.Groups[0]
}

// linearSlotsLattigo is the straightforward version of linearSlots with
// Lattigo's scalar MulThenAdd, kept as the reference it must match.
func (s *Server) linearSlotsLattigo(in []*rlwe.Ciphertext, st serverStage) ([]*rlwe.Ciphertext, error) {
	out := make([]*rlwe.Ciphertext, len(st.lin.w))
	var fe firstError
	parallel(len(out), s.workers, func(j int) {
		acc := ckks.NewCiphertext(s.params, 1, st.level)
		acc.Scale = st.accScale
		for i, w := range st.lin.w[j] {
			if w != 0 {
				fe.set(s.eval.MulThenAdd(in[i], w, acc))
			}
		}
		fe.set(s.eval.Add(acc, st.lin.b[j], acc))
		fe.set(s.eval.Rescale(acc, acc))
		acc.Scale = st.outScale
		out[j] = acc
	})
	return out, fe.err
}

func TestLinearSlotsMatchesLattigo(t *testing.T) {
	s, c, st, in := slotsFixture(t, 24, 10)
	fast, err := s.linearSlots(in, st)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := s.linearSlotsLattigo(in, st)
	if err != nil {
		t.Fatal(err)
	}
	for j := range fast {
		a, _ := c.owner.Decrypt(fast[j])
		b, _ := c.owner.Decrypt(ref[j])
		for k := 0; k < 100; k++ {
			if d := a[k] - b[k]; d > 1e-6 || d < -1e-6 {
				t.Fatalf("output %d slot %d: kernel %.9g, Lattigo %.9g", j, k, a[k], b[k])
			}
		}
	}
}

// BenchmarkSlotsKernel compares the RNS kernel with Lattigo's scalar
// MulThenAdd on a 64→32 layer at level 3, LogN 13.
func BenchmarkSlotsKernel(b *testing.B) {
	s, _, st, in := slotsFixture(b, 64, 32)
	for _, c := range []struct {
		name string
		f    func([]*rlwe.Ciphertext, serverStage) ([]*rlwe.Ciphertext, error)
	}{{"henn", s.linearSlots}, {"lattigo-MulThenAdd", s.linearSlotsLattigo}} {
		b.Run(c.name, func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := c.f(in, st); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N)*1e3, "cpu-ms/op")
		})
	}
}

func TestCiphertextsRoundTrip(t *testing.T) {
	b := smallFFN(101, 8, 16, 2, true)
	m, err := CompileFFN(b, Options{MaxTokens: 16})
	if err != nil {
		t.Fatal(err)
	}
	c, s := parties(t, m)
	sents := randSentences(rand.New(rand.NewPCG(102, 102)), 2, 10, 8)
	in, err := c.EncryptSentences(m.Layout(), sents)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := in.WriteTo(&buf, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || n < in.BinarySize()*9/10 {
		t.Errorf("wrote %d bytes, buffer %d, ciphertexts alone %d", n, buf.Len(), in.BinarySize())
	}
	back, err := ReadCiphertexts(&buf, m.Params())
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Evaluate(back)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DecryptLogits(m.Layout(), out)
	if err != nil {
		t.Fatal(err)
	}
	for i, sent := range sents {
		want, _ := b.Forward(sent)
		for k := range want {
			if d := got[i][k] - want[k]; d > 1e-4 || d < -1e-4 {
				t.Errorf("sentence %d class %d: %g after the round trip, want %g", i, k, got[i][k], want[k])
			}
		}
	}
	if _, err := ReadCiphertexts(bytes.NewReader([]byte("garbage")), m.Params()); err == nil || !strings.Contains(err.Error(), "not a serialized") {
		t.Errorf("garbage: err = %v", err)
	}
}
