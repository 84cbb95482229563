package llama2c

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
)

// randomModel builds a small model with random weights: dim 16, 4 query and
// 2 key/value heads (grouped-query), 2 layers, vocabulary 11.
func randomModel(seed uint64, shared bool) *Model {
	rng := rand.New(rand.NewPCG(seed, 7))
	c := Config{Dim: 16, HiddenDim: 12, NLayers: 2, NHeads: 4, NKVHeads: 2, VocabSize: 11, SeqLen: 9, SharedClassifier: shared}
	r := func(n int, s float64) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(rng.NormFloat64() * s)
		}
		return out
	}
	ones := func(n int) []float32 {
		out := r(n, 0.2)
		for i := range out {
			out[i] += 1
		}
		return out
	}
	d, h, kv := c.Dim, c.HiddenDim, c.KVDim()
	m := &Model{Config: c, TokenEmbedding: r(c.VocabSize*d, 1), RMSFinal: ones(d)}
	for range c.NLayers {
		m.Layers = append(m.Layers, Layer{RMSAtt: ones(d), WQ: r(d*d, 0.5), WK: r(kv*d, 0.5), WV: r(kv*d, 0.5), WO: r(d*d, 0.3),
			RMSFFN: ones(d), W1: r(h*d, 0.4), W2: r(d*h, 0.3), W3: r(h*d, 0.4)})
	}
	half := c.HeadSize() / 2
	for t := range c.SeqLen {
		for j := range half {
			f := float64(t) / math.Pow(10000, float64(2*j)/float64(c.HeadSize()))
			m.FreqCisReal = append(m.FreqCisReal, float32(math.Cos(f)))
			m.FreqCisImag = append(m.FreqCisImag, float32(math.Sin(f)))
		}
	}
	if shared {
		m.Classifier = m.TokenEmbedding
	} else {
		m.Classifier = r(c.VocabSize*d, 0.5)
	}
	return m
}

func randVec(rng *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = rng.NormFloat64()
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// checkGrad compares grad with central finite differences of loss with
// respect to every entry of p (or n random entries when n > 0).
func checkGrad(t *testing.T, name string, p, grad []float64, loss func() float64, n int, rng *rand.Rand) {
	t.Helper()
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	if n > 0 && n < len(p) {
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		idx = idx[:n]
	}
	const eps = 1e-5
	for _, i := range idx {
		old := p[i]
		p[i] = old + eps
		lp := loss()
		p[i] = old - eps
		lm := loss()
		p[i] = old
		fd := (lp - lm) / (2 * eps)
		if d := math.Abs(fd - grad[i]); d > 1e-6*(1+math.Abs(fd)) {
			t.Errorf("%s[%d]: analytic %.10g, finite difference %.10g", name, i, grad[i], fd)
			return
		}
	}
}

func TestRMSNormGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x, w, r := randVec(rng, 7), randVec(rng, 7), randVec(rng, 7)
	loss := func() float64 {
		o := make([]float64, 7)
		rmsnormFwd(o, x, w)
		return dot(o, r)
	}
	o := make([]float64, 7)
	inv := rmsnormFwd(o, x, w)
	dx, dw := make([]float64, 7), make([]float64, 7)
	rmsnormBwd(dx, dw, r, x, w, inv)
	checkGrad(t, "x", x, dx, loss, 0, rng)
	checkGrad(t, "w", w, dw, loss, 0, rng)
}

func TestRoPEGradient(t *testing.T) {
	w := NewWeights(randomModel(2, true))
	rng := rand.New(rand.NewPCG(2, 1))
	v, r := randVec(rng, w.Dim), randVec(rng, w.Dim)
	for _, pos := range []int{0, 3, 8} {
		loss := func() float64 {
			u := append([]float64(nil), v...)
			w.rope(u, pos, false)
			return dot(u, r)
		}
		g := append([]float64(nil), r...)
		w.rope(g, pos, true)
		checkGrad(t, "v", v, g, loss, 0, rng)
	}
}

func TestAttentionGradient(t *testing.T) {
	c := randomModel(3, true).Config
	rng := rand.New(rand.NewPCG(3, 1))
	const T = 6
	q, k, v := randVec(rng, T*c.Dim), randVec(rng, T*c.KVDim()), randVec(rng, T*c.KVDim())
	r := randVec(rng, T*c.Dim)
	att, o := make([]float64, c.NHeads*T*T), make([]float64, T*c.Dim)
	loss := func() float64 {
		attentionFwd(c, T, q, k, v, att, o)
		return dot(o, r)
	}
	loss()
	dq, dk, dv := make([]float64, len(q)), make([]float64, len(k)), make([]float64, len(v))
	attentionBwd(c, T, q, k, v, att, r, dq, dk, dv)
	checkGrad(t, "q", q, dq, loss, 0, rng)
	checkGrad(t, "k", k, dk, loss, 0, rng)
	checkGrad(t, "v", v, dv, loss, 0, rng)
	// Causality: the output at position 0 ignores keys and values after it.
	o0 := append([]float64(nil), o[:c.Dim]...)
	k[c.KVDim()*3] += 5
	v[c.KVDim()*4] += 5
	loss()
	for i := range o0 {
		if o[i] != o0[i] {
			t.Fatal("position 0 attends to later positions")
		}
	}
}

func TestSwiGLUGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 1))
	const n = 9
	h1, h3, r := randVec(rng, n), randVec(rng, n), randVec(rng, n)
	for _, c := range [][]float64{nil, {0.2, 0.5, 0.2}, {-0.1, 0.3, 0.7, 0.05}} {
		m := make([]float64, n)
		loss := func() float64 {
			gateFwd(m, h1, h3, c)
			return dot(m, r)
		}
		dh1, dh3 := make([]float64, n), make([]float64, n)
		dc := make([]float64, len(c))
		gateBwd(dh1, dh3, dc, r, h1, h3, c)
		checkGrad(t, "h1", h1, dh1, loss, 0, rng)
		checkGrad(t, "h3", h3, dh3, loss, 0, rng)
		if c != nil {
			checkGrad(t, "gate", c, dc, loss, 0, rng)
		}
	}
}

// TestModelGradient checks the whole backward pass (embeddings, every
// layer, the final norm, the tied or separate classifier and the gate
// polynomials) on the distillation loss, KL plus cross-entropy.
func TestModelGradient(t *testing.T) {
	for _, shared := range []bool{true, false} {
		w := NewWeights(randomModel(5, shared))
		teacher := NewWeights(randomModel(6, shared))
		w.Gate[0] = []float64{0.2, 0.5, 0.25}
		w.Gate[1] = []float64{0.1, 0.4, 0.3}
		rng := rand.New(rand.NewPCG(5, 1))
		tokens := []int{1, 4, 7, 2, 2, 10, 0, 5}
		var tt Tape
		if err := teacher.Forward(tokens, &tt); err != nil {
			t.Fatal(err)
		}
		tlp := tt.LogProbs(w.VocabSize)
		var tp Tape
		dl := make([]float64, len(tokens)*w.VocabSize)
		loss := func() float64 {
			if err := w.Forward(tokens, &tp); err != nil {
				t.Fatal(err)
			}
			kl, ce := DistillLoss(tp.logits, tlp, tokens, w.VocabSize, 1, 0.5, dl)
			return kl + 0.5*ce
		}
		loss()
		g := w.zeroLike()
		w.Backward(&tp, dl, g)
		names := []string{"embedding"}
		for l := range w.Layers {
			for _, s := range []string{"rms_att", "wq", "wk", "wv", "wo", "rms_ffn", "w1", "w2", "w3"} {
				names = append(names, s+string(rune('0'+l)))
			}
		}
		names = append(names, "rms_final")
		if !shared {
			names = append(names, "classifier")
		}
		names = append(names, "gate0", "gate1")
		vs, gs := w.slices(), g.slices()
		if len(vs) != len(names) {
			t.Fatalf("%d tensors, %d names", len(vs), len(names))
		}
		for k := range vs {
			checkGrad(t, names[k], vs[k], gs[k], loss, 12, rng)
		}
	}
}

// TestTrainForwardMatchesInference: the training forward pass equals the
// inference forward pass (llama2.c's, which reproduces its published
// sample) on stories260K, with SiLU and with a polynomial gate.
func TestTrainForwardMatchesInference(t *testing.T) {
	m, tok := embeddedTok(t)
	ids, err := tok.Encode("Once upon a time, there was a little girl named Lily. She loved to play", true, false)
	if err != nil {
		t.Fatal(err)
	}
	w := NewWeights(m)
	for _, gate := range [][]float64{nil, {0.18, 0.5, 0.2}} {
		for l := range w.Gate {
			w.Gate[l] = gate
		}
		var tp Tape
		if err := w.Forward(ids, &tp); err != nil {
			t.Fatal(err)
		}
		s := m.NewState()
		for l, f := range w.GateFuncs() {
			s.SetLayerActivation(l, f)
		}
		var worst float64
		for pos, id := range ids {
			want, err := s.Forward(id, pos)
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range tp.Logits(pos, m.VocabSize) {
				worst = math.Max(worst, math.Abs(v-want[i]))
			}
		}
		if worst > 1e-9 {
			t.Errorf("gate %v: training logits differ from inference by %g", gate, worst)
		}
	}
}

func TestWriteRoundTrip(t *testing.T) {
	for _, m := range []*Model{randomModel(8, true), randomModel(9, false)} {
		var buf bytes.Buffer
		if err := m.Write(&buf); err != nil {
			t.Fatal(err)
		}
		if int64(buf.Len()) != m.FileSize() {
			t.Fatalf("wrote %d bytes, header describes %d", buf.Len(), m.FileSize())
		}
		got, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		if err := got.Write(&again); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), again.Bytes()) || got.SharedClassifier != m.SharedClassifier {
			t.Fatal("checkpoint does not round-trip")
		}
	}
	// The embedded stories260K checkpoint is re-written byte for byte, also
	// through float64 Weights.
	m, _, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := NewWeights(m).Model().Write(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), embeddedModel) {
		t.Fatal("stories260K re-written differs from the embedded file")
	}
	bad := randomModel(10, true)
	bad.Layers[1].W2 = bad.Layers[1].W2[:3]
	if err := bad.Write(&bytes.Buffer{}); err == nil {
		t.Fatal("a short tensor was written")
	}
}

// TestReferenceScoreMatchesCompare: scoring with the cached reference and
// the training forward pass gives Compare's numbers.
func TestReferenceScoreMatchesCompare(t *testing.T) {
	m, tok := embeddedTok(t)
	var seqs [][]int
	for _, s := range []string{"Once upon a time, there was a cat.", "The dog ran to the park and saw a big tree.", "Lily"} {
		ids, err := tok.Encode(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ids)
	}
	w := NewWeights(m)
	ref, err := NewReference(w, seqs, 2)
	if err != nil {
		t.Fatal(err)
	}
	self, err := ref.Score(w, 2)
	if err != nil {
		t.Fatal(err)
	}
	if self.Top1Agreement != 1 || self.KL > 1e-6 || math.Abs(self.Perplexity/self.RefPerplexity-1) > 1e-6 {
		t.Errorf("the reference scored against itself: %+v", self)
	}
	gate := []float64{0.18, 0.5, 0.2}
	for l := range w.Gate {
		w.Gate[l] = gate
	}
	got, err := ref.Score(w, 2)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Compare(m, seqs, func(x float64) float64 { return polyEval(gate, x) })
	if err != nil {
		t.Fatal(err)
	}
	if got.Positions != want.Positions || got.Sequences != want.Sequences || got.Top1Agreement != want.Top1Agreement ||
		math.Abs(got.Perplexity/want.Perplexity-1) > 1e-5 || math.Abs(got.KL-want.KL) > 1e-5 || math.Abs(got.RefPerplexity/want.RefPerplexity-1) > 1e-5 {
		t.Errorf("Score %+v\nCompare %+v", got, want)
	}
	if want.KL < 0.01 || want.Top1Agreement > 0.95 {
		t.Errorf("a quadratic gate should change the model: %+v", want)
	}
}

// TestForwardFFNMatchesForward: the lock-step forward with the plain FFN
// plugged in equals Forward on each sequence.
func TestForwardFFNMatchesForward(t *testing.T) {
	w := NewWeights(randomModel(11, true))
	w.Gate[1] = []float64{0.1, 0.5, 0.2}
	seqs := [][]int{{1, 2, 3, 4}, {5}, {6, 7, 8, 9, 10, 0, 1}}
	got, err := w.ForwardFFN(seqs, func(l int, xf []float64, n int) ([]float64, error) { return w.FFN(l, xf, n), nil })
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		var tp Tape
		if err := w.Forward(s, &tp); err != nil {
			t.Fatal(err)
		}
		for j, v := range tp.AllLogits(len(s), w.VocabSize) {
			if math.Abs(v-got[i][j]) > 1e-12 {
				t.Fatalf("sequence %d logit %d: %v vs %v", i, j, got[i][j], v)
			}
		}
	}
	if _, err := w.ForwardFFN(seqs, func(int, []float64, int) ([]float64, error) { return nil, nil }); err == nil {
		t.Fatal("a short FFN result was accepted")
	}
}
