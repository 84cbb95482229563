package henn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
)

func encRandDense(r *rand.Rand, out, in int, scale float64, bias bool) Dense {
	d := Dense{W: make([][]float64, out)}
	for i := range d.W {
		d.W[i] = make([]float64, in)
		for j := range d.W[i] {
			d.W[i][j] = scale * r.NormFloat64() / math.Sqrt(float64(in))
		}
	}
	if bias {
		d.B = make([]float64, out)
		for i := range d.B {
			d.B[i] = 0.1 * r.NormFloat64()
		}
	}
	return d
}

// randEncoder returns an encoder of realistic scale: unit-variance token
// rows stay O(1) through the layers.
func randEncoder(seed uint64, dim, heads, hidden, maxTokens, layers, classes int) *Encoder {
	r := rand.New(rand.NewPCG(seed, 7))
	e := &Encoder{Dim: dim, Heads: heads, MaxTokens: maxTokens, QuadShift: 3}
	dh := float64(dim / heads)
	for range layers {
		norm := encRandDense(r, dim, dim, 0.3, true)
		for i := range dim {
			norm.W[i][i] += 0.6
		}
		e.Layers = append(e.Layers, EncoderLayer{
			Q: encRandDense(r, dim, dim, 1/math.Sqrt(dh), true), K: encRandDense(r, dim, dim, 1, true),
			V: encRandDense(r, dim, dim, 1, true), O: encRandDense(r, dim, dim, 0.5, true), Norm: norm,
			FFNIn: encRandDense(r, hidden, dim, 1, true), Act: Poly{Coeffs: approx.Poly{0.1, 0.5, 0.2}},
			FFNOut: encRandDense(r, dim, hidden, 0.5, true),
		})
	}
	e.Classifier = encRandDense(r, classes, dim, 1, true)
	return e
}

func randSentence(r *rand.Rand, n, dim int) [][]float64 {
	x := make([][]float64, n)
	for t := range x {
		x[t] = make([]float64, dim)
		for f := range x[t] {
			x[t][f] = r.NormFloat64()
		}
	}
	return x
}

type encoderRig struct {
	m      *EncoderModel
	client *Client
	evk    *he.EvaluationKeys
	server *EncoderServer
}

func newEncoderRig(t testing.TB, e *Encoder, opts Options) *encoderRig {
	t.Helper()
	m, err := CompileEncoder(e, opts)
	if err != nil {
		t.Fatal(err)
	}
	c, evk := keyed(t, m)
	s, err := NewEncoderServer(m, evk)
	if err != nil {
		t.Fatal(err)
	}
	return &encoderRig{m, c, evk, s}
}

func (g *encoderRig) run(t testing.TB, x [][]float64) []float64 {
	t.Helper()
	in, err := g.client.EncryptEncoderInput(g.m.Layout(), x)
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.server.Evaluate(in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Level() != 0 {
		t.Errorf("logits at level %d, want 0 (the plan uses every level)", out.Level())
	}
	y, err := g.client.DecryptEncoderLogits(g.m.Layout(), out)
	if err != nil {
		t.Fatal(err)
	}
	return y
}

// The encrypted encoder matches Encoder.Forward on full, short (padded)
// and one-token sentences. The tolerance follows from the scale: 2^34 at
// N14-L9 leaves about 2^-20 relative error after eight rescalings and a
// few thousand accumulated products; 1e-3 of the logits' magnitude is
// far above that and far below any change a masking or layout mistake
// causes (those move logits by O(1)).
//
// This is the encrypted encoder's test in CI (-short, also under -race,
// which checks the 2 goroutines of one evaluation): one 5-token sentence
// there, lengths 8, 5 and 1 otherwise.
func TestEncoderEncryptedMatchesForward(t *testing.T) {
	lengths := []int{8, 5, 1}
	if testing.Short() {
		lengths = []int{5}
	}
	e := randEncoder(1, 16, 2, 32, 8, 1, 2)
	g := newEncoderRig(t, e, Options{Workers: 2})
	if g.m.Preset() != "N14-L9" || g.m.Depth() != 8 {
		t.Fatalf("1 layer planned on %s with depth %d, want N14-L9 and 8", g.m.Preset(), g.m.Depth())
	}
	r := rand.New(rand.NewPCG(2, 3))
	for _, n := range lengths {
		x := randSentence(r, n, e.Dim)
		want, err := e.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		got := g.run(t, x)
		scale := 0.0
		for _, w := range want {
			scale = max(scale, math.Abs(w))
		}
		for k := range want {
			if d := math.Abs(got[k] - want[k]); d > 1e-3*max(1, scale) {
				t.Errorf("n=%d logit %d: encrypted %.6f, plaintext %.6f (|Δ| %.2e)", n, k, got[k], want[k], d)
			}
		}
		t.Logf("n=%d: encrypted %v, plaintext %v", n, got, want)
	}
}

// A closed form independent of Forward: with Q = 0 every score is 0, so
// the attention is the plain average over the real tokens; with V = O =
// Norm = I and FFNOut = 0 the logits are 2·mean(x), whatever the padding.
func TestEncoderEncryptedUniformAttention(t *testing.T) {
	if testing.Short() {
		t.Skip("encrypted encoder at LogN 14")
	}
	const d = 4
	e := &Encoder{Dim: d, Heads: 2, MaxTokens: 8, QuadShift: 3,
		Layers: []EncoderLayer{{Q: eye(d, 0), K: eye(d, 1), V: eye(d, 1), O: eye(d, 1), Norm: eye(d, 1),
			FFNIn: eye(d, 1), Act: Poly{Coeffs: approx.Poly{0.1, 0.5, 0.2}}, FFNOut: eye(d, 0)}},
		Classifier: eye(d, 1)}
	g := newEncoderRig(t, e, Options{Workers: 2})
	x := [][]float64{{1, 2, 3, 4}, {-1, 0, 5, 2}, {0.5, 0.5, -2, 1}}
	got := g.run(t, x)
	for f := range d {
		want := 2 * (x[0][f] + x[1][f] + x[2][f]) / 3
		if math.Abs(got[f]-want) > 1e-4 {
			t.Errorf("logit %d = %v, want %v", f, got[f], want)
		}
	}
}

// Two layers (N15-L17, no bootstrapping) and three classes (two class
// partials per token block cannot hold them, so they take a quarter each);
// a short sentence, so the second layer also sees padded tokens whose
// values the first layer's biases made nonzero.
func TestEncoderEncryptedTwoLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("two encrypted encoder layers at LogN 15")
	}
	e := randEncoder(3, 16, 2, 32, 8, 2, 3)
	g := newEncoderRig(t, e, Options{Workers: 2})
	if g.m.Preset() != "N15-L17" || g.m.Depth() != 15 {
		t.Fatalf("2 layers planned on %s with depth %d, want N15-L17 and 15", g.m.Preset(), g.m.Depth())
	}
	t.Logf("%d rotation keys, %.0f MB of evaluation keys", len(g.m.Rotations()), float64(g.evk.Size())/1e6)
	r := rand.New(rand.NewPCG(4, 5))
	x := randSentence(r, 6, e.Dim)
	want, _ := e.Forward(x)
	got := g.run(t, x)
	scale := 0.0
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for k := range want {
		if d := math.Abs(got[k] - want[k]); d > 1e-3*max(1, scale) {
			t.Errorf("logit %d: encrypted %.6f, plaintext %.6f", k, got[k], want[k])
		}
	}
	t.Logf("encrypted %v, plaintext %v", got, want)
}

func TestEncoderEncryptedBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("needs LogN 14 keys")
	}
	e := randEncoder(1, 16, 2, 32, 8, 1, 2)
	g := newEncoderRig(t, e, Options{Workers: 1})
	l := g.m.Layout()
	r := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct {
		name string
		x    [][]float64
		want string
	}{
		{"too long", randSentence(r, 9, 16), "at most 8"},
		{"empty", nil, "empty sentence"},
		{"wrong width", randSentence(r, 3, 15), "features"},
		{"not finite", [][]float64{{math.NaN(), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}, "NaN"},
	} {
		if _, err := g.client.EncryptEncoderInput(l, c.x); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	in, err := g.client.EncryptEncoderInput(l, randSentence(r, 3, 16))
	if err != nil {
		t.Fatal(err)
	}
	// Wrong level.
	low := *in
	low.X = in.X.CopyNew()
	low.X.Resize(1, in.X.Level()-1)
	if _, err := g.server.Evaluate(&low); err == nil || !strings.Contains(err.Error(), "level") {
		t.Errorf("ciphertext at the wrong level: %v", err)
	}
	if _, err := g.server.Evaluate(&EncoderInput{X: in.X}); err == nil {
		t.Error("missing mask accepted")
	}
	// Ciphertexts and keys of other parameters.
	other, err := CompileEncoder(randEncoder(1, 16, 2, 32, 8, 2, 2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := NewClient(other.Params())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oc.EncryptEncoderInput(l, randSentence(r, 2, 16)); err == nil || !strings.Contains(err.Error(), "other parameters") {
		t.Errorf("layout of other parameters: %v", err)
	}
	oin, err := oc.EncryptEncoderInput(other.Layout(), randSentence(r, 2, 16))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.server.Evaluate(oin); err == nil {
		t.Error("ciphertexts of other parameters accepted")
	}
	oevk, err := oc.EvaluationKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewEncoderServer(g.m, oevk); err == nil || !strings.Contains(err.Error(), "other parameters") {
		t.Errorf("keys of other parameters: %v", err)
	}
	few, err := g.client.EvaluationKeys(g.m.Rotations()[:3])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewEncoderServer(g.m, few); err == nil || !strings.Contains(err.Error(), "rotations") {
		t.Errorf("keys lacking rotations: %v", err)
	}
}

func TestCompileEncoderRejects(t *testing.T) {
	e := randEncoder(1, 12, 2, 16, 8, 1, 2) // 6 features per head
	if _, err := CompileEncoder(e, Options{}); err == nil || !strings.Contains(err.Error(), "power-of-two head width") {
		t.Errorf("head width 6: %v", err)
	}
	e = randEncoder(1, 16, 2, 64, 8, 1, 2)
	if _, err := CompileEncoder(e, Options{}); err == nil || !strings.Contains(err.Error(), "hidden units") {
		t.Errorf("hidden 64 > block 32: %v", err)
	}
	e = randEncoder(1, 16, 2, 32, 8, 1, 2)
	e.Layers[0].Act.Coeffs = approx.Poly{0, 1}
	if _, err := CompileEncoder(e, Options{}); err == nil || !strings.Contains(err.Error(), "quadratic") {
		t.Errorf("linear activation: %v", err)
	}
	e = randEncoder(1, 16, 2, 32, 8, 5, 2)
	if _, err := CompileEncoder(e, Options{}); err == nil || !strings.Contains(err.Error(), "36 levels") {
		t.Errorf("5 layers (36 levels, deepest preset 33) without bootstrapping: %v", err)
	}
}
