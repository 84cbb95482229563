package henn

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/internal/logits"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

func randDense(r *rand.Rand, out, in int, scale float64) Dense {
	d := Dense{W: make([][]float64, out), B: make([]float64, out)}
	for i := range d.W {
		d.W[i] = make([]float64, in)
		for j := range d.W[i] {
			d.W[i][j] = r.NormFloat64() * scale / math.Sqrt(float64(in))
		}
		d.B[i] = 0.1 * r.NormFloat64()
	}
	return d
}

func randInputs(r *rand.Rand, n, dim int) [][]float64 {
	xs := make([][]float64, n)
	for i := range xs {
		xs[i] = make([]float64, dim)
		for j := range xs[i] {
			xs[i][j] = r.Float64()
		}
	}
	return xs
}

// kernelQuad is a typical fitted ReLU quadratic (least squares under N(0,1)).
var kernelQuad = Poly{Coeffs: approx.Poly{0.199471, 0.5, 0.199471}}

// compiled is what a client needs of a compiled model (Model or
// EncoderModel) to make its keys.
type compiled interface {
	Params() ckks.Parameters
	Rotations() []int
}

// keyed makes a client with a fresh secret key for m and its evaluation
// keys for m's rotations, failing tb on any error: the start of every
// test rig in this package.
func keyed(tb testing.TB, m compiled) (*Client, *he.EvaluationKeys) {
	tb.Helper()
	c, err := NewClient(m.Params())
	if err != nil {
		tb.Fatal(err)
	}
	evk, err := c.EvaluationKeys(m.Rotations())
	if err != nil {
		tb.Fatal(err)
	}
	return c, evk
}

// infer encrypts inputs with c, evaluates them on s and decrypts the
// logits, failing tb on any error: one encrypted round trip.
func infer(tb testing.TB, c *Client, s *Server, l Layout, inputs [][]float64) [][]float64 {
	tb.Helper()
	ct, err := c.EncryptBatch(l, inputs)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := s.Evaluate(ct)
	if err != nil {
		tb.Fatal(err)
	}
	got, err := c.DecryptLogits(l, out)
	if err != nil {
		tb.Fatal(err)
	}
	return got
}

// parties makes a client with fresh keys for m and a server holding m and
// the client's evaluation keys, failing the test on any error.
func parties(tb testing.TB, m *Model) (*Client, *Server) {
	tb.Helper()
	c, evk := keyed(tb, m)
	s, err := NewServer(m, evk)
	if err != nil {
		tb.Fatal(err)
	}
	return c, s
}

func smallMLP(seed uint64, in, hidden, out int) Network {
	r := rand.New(rand.NewPCG(seed, 1))
	return Network{InputDim: in, Layers: []Layer{
		randDense(r, hidden, in, 2), kernelQuad, randDense(r, out, hidden, 2),
	}}
}

// closeLogits checks encrypted against plaintext logits to rel relative to
// the largest plaintext logit, and returns the argmax agreement.
func closeLogits(t *testing.T, net interface {
	Forward([]float64) ([]float64, error)
}, inputs, got [][]float64, rel float64) float64 {
	t.Helper()
	if len(got) != len(inputs) {
		t.Fatalf("got %d logit vectors, want %d", len(got), len(inputs))
	}
	agree := 0
	for i, x := range inputs {
		want, err := net.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		scale := 0.0
		for _, v := range want {
			scale = max(scale, math.Abs(v))
		}
		for j := range want {
			if d := math.Abs(got[i][j] - want[j]); d > rel*max(scale, 1) {
				t.Fatalf("input %d logit %d: encrypted %.6g, plaintext %.6g (diff %.3g)", i, j, got[i][j], want[j], d)
			}
		}
		if logits.Argmax(want) == logits.Argmax(got[i]) {
			agree++
		}
	}
	return float64(agree) / float64(len(inputs))
}

func TestRunPackedMatchesPlaintext(t *testing.T) {
	// 50→24→5 has only "wide" maps (out < in, rotate-and-add after the
	// diagonals); 10→40→3 starts with a "tall" one (out > in). Replicate
	// puts one input per ciphertext with rotated copies.
	for _, shape := range [][3]int{{50, 24, 5}, {10, 40, 3}} {
		for _, rep := range []bool{false, true} {
			net := smallMLP(1, shape[0], shape[1], shape[2])
			inputs := randInputs(rand.New(rand.NewPCG(2, 2)), 5, shape[0])
			got, st, err := Run(net, inputs, Options{Mode: Packed, Replicate: rep})
			if err != nil {
				t.Fatal(err)
			}
			if st.Depth != 3 {
				t.Errorf("%v: depth %d, want 3 (dense, square, dense)", shape, st.Depth)
			}
			if rep && st.PerCiphertext != 1 {
				t.Errorf("%v replicated: %d inputs per ciphertext, want 1", shape, st.PerCiphertext)
			}
			if ag := closeLogits(t, net, inputs, got, 1e-4); ag < 1 {
				t.Errorf("%v replicate=%v: argmax agreement %.3f, want 1", shape, rep, ag)
			}
			t.Logf("%v replicate=%v: %+v", shape, rep, st)
		}
	}
}

func TestRunSlotsMatchesPlaintext(t *testing.T) {
	net := smallMLP(3, 12, 8, 3)
	inputs := randInputs(rand.New(rand.NewPCG(4, 4)), 30, 12)
	got, st, err := Run(net, inputs, Options{Mode: Slots})
	if err != nil {
		t.Fatal(err)
	}
	if ag := closeLogits(t, net, inputs, got, 1e-4); ag < 1 {
		t.Errorf("argmax agreement %.3f, want 1", ag)
	}
	t.Logf("%+v", st)
}

func TestTooDeep(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	layers := []Layer{}
	for range 9 {
		layers = append(layers, randDense(r, 8, 8, 1), kernelQuad)
	}
	layers = append(layers, randDense(r, 2, 8, 1))
	_, err := Compile(Network{InputDim: 8, Layers: layers}, Options{LogN: 13})
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("err = %v, want ErrTooDeep", err)
	}
	for _, s := range []string{"19 levels", "LogN 13", "fits: LogN 16"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func smallFFN(seed uint64, dim, hidden, classes int, residual bool) FFNBlock {
	r := rand.New(rand.NewPCG(seed, 3))
	return FFNBlock{Dim: dim, W1: randDense(r, hidden, dim, 1.5), Act: kernelQuad,
		W2: randDense(r, dim, hidden, 1), Residual: residual, Classifier: randDense(r, classes, dim, 1)}
}

func randSentences(r *rand.Rand, n, maxLen, dim int) [][][]float64 {
	out := make([][][]float64, n)
	for i := range out {
		out[i] = make([][]float64, 1+r.IntN(maxLen))
		for t := range out[i] {
			out[i][t] = make([]float64, dim)
			for f := range out[i][t] {
				out[i][t][f] = r.NormFloat64()
			}
		}
	}
	return out
}

func TestRunFFNMatchesPlaintext(t *testing.T) {
	for _, residual := range []bool{true, false} {
		b := smallFFN(11, 20, 70, 3, residual) // 70 hidden units: one full and one partial block of 32
		sents := randSentences(rand.New(rand.NewPCG(12, 12)), 2, 40, 20)
		got, st, err := RunFFN(b, sents, Options{MaxTokens: 64})
		if err != nil {
			t.Fatal(err)
		}
		if st.Depth != 3 {
			t.Errorf("depth %d, want 3", st.Depth)
		}
		for i, s := range sents {
			want, err := b.Forward(s)
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if d := math.Abs(got[i][k] - want[k]); d > 1e-4*max(1, math.Abs(want[k])) {
					t.Errorf("residual=%v sentence %d class %d: encrypted %.6g, plaintext %.6g", residual, i, k, got[i][k], want[k])
				}
			}
		}
		t.Logf("%+v", st)
	}
}

func TestBadInput(t *testing.T) {
	net := smallMLP(21, 10, 6, 3)
	m, err := Compile(net, Options{Mode: Packed})
	if err != nil {
		t.Fatal(err)
	}
	c, srv := parties(t, m)
	l := m.Layout()
	wantErr := func(name string, err error, sub string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), sub) {
			t.Errorf("%s: err = %v, want it to mention %q", name, err, sub)
		}
	}
	_, err = c.EncryptBatch(l, [][]float64{make([]float64, 9)})
	wantErr("short input", err, "has 9 features, the model takes 10")
	_, err = c.EncryptBatch(l, nil)
	wantErr("no inputs", err, "no inputs")
	_, err = c.EncryptBatch(l, [][]float64{{math.NaN(), 0, 0, 0, 0, 0, 0, 0, 0, 0}})
	wantErr("NaN", err, "NaN")
	_, err = c.EncryptSentences(l, [][][]float64{{{1}}})
	wantErr("wrong layout", err, "Tokens layout")

	// Keys without rotations.
	bare, err := c.EvaluationKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewServer(m, bare)
	wantErr("missing rotations", err, "lack")

	// Keys and ciphertexts from other parameters.
	m14, err := Compile(net, Options{Mode: Packed, LogN: 14})
	if err != nil {
		t.Fatal(err)
	}
	c14, err := NewClient(m14.Params())
	if err != nil {
		t.Fatal(err)
	}
	evk14, err := c14.EvaluationKeys(m14.Rotations())
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewServer(m, evk14)
	wantErr("keys of other params", err, "other parameters")
	in14, err := c14.EncryptBatch(m14.Layout(), [][]float64{make([]float64, 10)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = srv.Evaluate(in14)
	wantErr("ciphertext of other params", err, "LogN 13")
	_, err = c.EncryptBatch(m14.Layout(), [][]float64{make([]float64, 10)})
	wantErr("layout of other params", err, "other parameters")

	// A ciphertext one level short.
	in, err := c.EncryptBatch(l, [][]float64{make([]float64, 10)})
	if err != nil {
		t.Fatal(err)
	}
	short := &Ciphertexts{Groups: [][]*rlwe.Ciphertext{{in.Groups[0][0].CopyNew()}}, Counts: []int{1}}
	short.Groups[0][0].Resize(1, l.Level-1)
	_, err = srv.Evaluate(short)
	wantErr("level too low", err, "needs 3 levels")

	// Wrong secret key: another client's ciphertexts decrypted by c.
	other, err := NewClient(m.Params())
	if err != nil {
		t.Fatal(err)
	}
	inOther, err := other.EncryptBatch(l, [][]float64{make([]float64, 10)})
	if err != nil {
		t.Fatal(err)
	}
	out, err := srv.Evaluate(inOther)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.DecryptLogits(l, out)
	wantErr("wrong key", err, "wrong secret key")

	// Models the evaluator cannot take.
	_, err = Compile(Network{InputDim: 4, Layers: []Layer{Dense{W: [][]float64{{1, 2, 3}}}}}, Options{})
	wantErr("ragged dense", err, "has 3 columns, input has 4")
	_, err = Compile(Network{InputDim: 2, Layers: []Layer{Poly{Coeffs: approx.Poly{0, 0, 0, 1}}}}, Options{})
	wantErr("cubic", err, "degree 3 needs 2 levels")
	_, err = Compile(net, Options{Mode: Tokens})
	wantErr("tokens for network", err, "not a network layout")
	_, err = Compile(net, Options{Mode: Slots, Replicate: true})
	wantErr("replicate slots", err, "Packed layout only")
	_, err = Compile(Network{InputDim: 1 << 15, Layers: []Layer{Dense{W: [][]float64{make([]float64, 1<<15)}}}}, Options{Mode: Packed, LogN: 13})
	wantErr("too wide", err, "32768 slots")
	_, err = CompileFFN(FFNBlock{Dim: 4, W1: Dense{W: [][]float64{{1, 1, 1, 1}}}, Act: Poly{Coeffs: approx.Poly{0, 1}},
		W2: Dense{W: [][]float64{{1}, {1}, {1}, {1}}}, Classifier: Dense{W: [][]float64{{1, 1, 1, 1}}}}, Options{})
	wantErr("linear FFN activation", err, "degree 1")
}

func TestFFNBadInput(t *testing.T) {
	b := smallFFN(31, 8, 16, 2, true)
	m, err := CompileFFN(b, Options{MaxTokens: 16, LogN: 13})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(m.Params())
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layout()
	if _, err := c.EncryptSentences(l, [][][]float64{{}}); err == nil || !strings.Contains(err.Error(), "no tokens") {
		t.Errorf("empty sentence: err = %v", err)
	}
	long := randSentences(rand.New(rand.NewPCG(1, 1)), 1, 1, 8)
	for len(long[0]) <= l.Stride {
		long[0] = append(long[0], long[0][0])
	}
	if _, err := c.EncryptSentences(l, long); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("over-long sentence: err = %v", err)
	}
	if _, err := c.EncryptSentences(l, [][][]float64{{make([]float64, 7)}}); err == nil || !strings.Contains(err.Error(), "7 features, want 8") {
		t.Errorf("short token: err = %v", err)
	}
	if _, err := CompileFFN(b, Options{MaxTokens: 1 << 14, LogN: 13}); !errors.Is(err, ErrTooDeep) {
		t.Errorf("too many tokens for LogN 13: err = %v", err)
	}
}

func TestRunAuto(t *testing.T) {
	net := smallMLP(91, 12, 8, 3)
	inputs := randInputs(rand.New(rand.NewPCG(92, 92)), 10, 12)
	got, st, err := Run(net, inputs, Options{Mode: Auto})
	if err != nil {
		t.Fatal(err)
	}
	if ag := closeLogits(t, net, inputs, got, 1e-4); ag < 1 {
		t.Errorf("agreement %.3f, want 1", ag)
	}
	if st.Latency <= 0 || st.PerInput <= 0 || st.PerCiphertext != 8192 || !strings.HasPrefix(st.Mode, "auto") {
		t.Errorf("stats %+v: want a slots batch of 8192 with a positive latency", st)
	}
	if _, _, err := Run(net, nil, Options{Mode: Auto}); err == nil {
		t.Error("no inputs: want an error")
	}
}
