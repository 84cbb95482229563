package transformer

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
)

// checkGrad compares the analytic gradient grad of f with respect to w
// against central finite differences at every index.
func checkGrad(t *testing.T, name string, f func() float64, w, grad []float64) {
	t.Helper()
	const h = 1e-6
	for i := range w {
		old := w[i]
		w[i] = old + h
		fp := f()
		w[i] = old - h
		fm := f()
		w[i] = old
		num := (fp - fm) / (2 * h)
		if d := math.Abs(num - grad[i]); d > 1e-6*math.Max(1, math.Abs(num)) {
			t.Errorf("%s[%d]: analytic %.9g, numeric %.9g", name, i, grad[i], num)
			return
		}
	}
}

func randDense(rng *rand.Rand, r, c int) *mat.Dense {
	m := mat.NewDense(r, c, nil)
	for i := range m.RawMatrix().Data {
		m.RawMatrix().Data[i] = rng.NormFloat64()
	}
	return m
}

// dot returns Σ a⊙b, the scalar loss whose output gradient is b.
func dot(a, b *mat.Dense) float64 { return mat.Sum(mulElem(a, b)) }

func mulElem(a, b *mat.Dense) *mat.Dense {
	var c mat.Dense
	c.MulElem(a, b)
	return &c
}

// layerCheck checks dx and every parameter gradient of a layer y = F(x)
// against the loss Σ y⊙r.
func layerCheck(t *testing.T, name string, x *mat.Dense, ps []*Param,
	forward func() *mat.Dense, backward func(dy *mat.Dense) *mat.Dense, rng *rand.Rand) {
	t.Helper()
	y := forward()
	r, c := y.Dims()
	dy := randDense(rng, r, c)
	for _, p := range ps {
		p.ZeroGrad()
	}
	dx := backward(dy)
	loss := func() float64 { return dot(forward(), dy) }
	checkGrad(t, name+".x", loss, x.RawMatrix().Data, dx.RawMatrix().Data)
	for _, p := range ps {
		checkGrad(t, name+"."+p.Name, loss, p.W, p.G)
	}
}

func TestGradLinear(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := newLinear("lin", 5, 3, rng)
	for i := range l.B.W {
		l.B.W[i] = rng.NormFloat64()
	}
	x := randDense(rng, 4, 5)
	layerCheck(t, "linear", x, l.params(), func() *mat.Dense { return l.Forward(x) },
		func(dy *mat.Dense) *mat.Dense { return l.Backward(x, dy) }, rng)
}

func TestGradLayerNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ln := newLayerNorm("ln", 6)
	for i := range ln.Gamma.W {
		ln.Gamma.W[i] = 1 + 0.5*rng.NormFloat64()
		ln.Beta.W[i] = rng.NormFloat64()
	}
	x := randDense(rng, 3, 6)
	var c lnCache
	layerCheck(t, "layernorm", x, ln.params(),
		func() *mat.Dense { y, cc := ln.Forward(x); c = cc; return y },
		func(dy *mat.Dense) *mat.Dense { _, c = ln.Forward(x); return ln.Backward(c, dy) }, rng)
}

func TestGradAttention(t *testing.T) {
	for _, heads := range []int{1, 2, 3} {
		rng := rand.New(rand.NewPCG(5, uint64(heads)))
		at := newAttention("attn", 6, heads, rng)
		for _, p := range at.params() {
			for i := range p.W {
				p.W[i] = rng.NormFloat64() * 0.7
			}
		}
		x := randDense(rng, 4, 6)
		layerCheck(t, "attention", x, at.params(),
			func() *mat.Dense { y, _ := at.Forward(x); return y },
			func(dy *mat.Dense) *mat.Dense { _, c := at.Forward(x); return at.Backward(c, dy) }, rng)
	}
}

func TestGradFFN(t *testing.T) {
	acts := []Activation{ReLU, PolyActivation("quad", approx.Poly{0.2, 0.5, 0.2}), PolyActivation("deg4", approx.Poly{0.1, 0.5, 0.3, 0, -0.01})}
	for _, act := range acts {
		rng := rand.New(rand.NewPCG(7, 8))
		f := FFN{In: newLinear("ffn1", 5, 7, rng), Out: newLinear("ffn2", 7, 5, rng)}
		x := randDense(rng, 3, 5)
		layerCheck(t, "ffn/"+act.Name, x, f.params(),
			func() *mat.Dense { y, _ := f.Forward(x, act, nil); return y },
			func(dy *mat.Dense) *mat.Dense { _, c := f.Forward(x, act, nil); return f.Backward(c, act, dy) }, rng)
	}
}

func TestGradMeanPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	x := randDense(rng, 5, 4)
	layerCheck(t, "pool", x, nil,
		func() *mat.Dense { return mat.NewDense(1, 4, MeanPool(x)) },
		func(dy *mat.Dense) *mat.Dense { return MeanPoolBackward(dy.RawRowView(0), 5) }, rng)
}

// TestGradModel checks the whole model — embedding rows, projection,
// positions, every block and the classifier — on the cross-entropy loss.
func TestGradModel(t *testing.T) {
	for _, act := range []Activation{ReLU, PolyActivation("quad", approx.Poly{0.3, 0.5, 0.15})} {
		for _, layers := range []int{1, 2} {
			rng := rand.New(rand.NewPCG(11, uint64(layers)))
			m, err := New(Config{Vocab: 7, EmbDim: 5, Dim: 6, Heads: 2, Hidden: 8, Layers: layers, MaxLen: 6, Classes: 2}, act, rng)
			if err != nil {
				t.Fatal(err)
			}
			m.TrainEmb = true
			for _, b := range m.Blocks {
				for i := range b.LN.Gamma.W {
					b.LN.Beta.W[i] = 0.3 * rng.NormFloat64()
				}
			}
			ids, label := []int{3, 0, 6, 3, 1}, 1
			m.ZeroGrad()
			if _, _, err := m.Loss(ids, label, true); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 { l, _, _ := m.Loss(ids, label, false); return l }
			for _, p := range m.Params() {
				checkGrad(t, act.Name+"/"+p.Name, loss, p.W, p.G)
			}
		}
	}
}

func TestFrozenEmbeddingHasNoGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	m, _ := New(Config{Vocab: 4, EmbDim: 3, Dim: 4, Heads: 1, Hidden: 4, Layers: 1, MaxLen: 4, Classes: 2}, ReLU, rng)
	m.ZeroGrad()
	if _, _, err := m.Loss([]int{1, 2}, 0, true); err != nil {
		t.Fatal(err)
	}
	for i, g := range m.Emb.G {
		if g != 0 {
			t.Fatalf("frozen embedding gradient %d = %v", i, g)
		}
	}
}

func TestGradAffineNorm(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	ln := newLayerNorm("norm", 6)
	ln.Affine = true
	for i := range ln.Gamma.W {
		ln.Gamma.W[i] = 1 + 0.5*rng.NormFloat64()
		ln.Beta.W[i] = rng.NormFloat64()
	}
	x := randDense(rng, 3, 6)
	layerCheck(t, "affine-norm", x, ln.params(),
		func() *mat.Dense { y, _ := ln.Forward(x); return y },
		func(dy *mat.Dense) *mat.Dense { _, c := ln.Forward(x); return ln.Backward(c, dy) }, rng)
}

func TestGradQuadAttention(t *testing.T) {
	for _, c := range []float64{0.5, 5} {
		for _, heads := range []int{1, 2, 3} {
			rng := rand.New(rand.NewPCG(6, uint64(heads)))
			at := newAttention("attn", 6, heads, rng)
			at.Quad = c
			for _, p := range at.params() {
				for i := range p.W {
					p.W[i] = rng.NormFloat64() * 0.7
				}
			}
			x := randDense(rng, 4, 6)
			layerCheck(t, "2quad", x, at.params(),
				func() *mat.Dense { y, _ := at.Forward(x); return y },
				func(dy *mat.Dense) *mat.Dense { _, c := at.Forward(x); return at.Backward(c, dy) }, rng)
		}
	}
}

// TestGradHEFriendlyModel checks the whole HE-friendly model (2Quad
// attention, affine normalisation, polynomial FFN) on the cross-entropy.
func TestGradHEFriendlyModel(t *testing.T) {
	for _, layers := range []int{1, 2} {
		rng := rand.New(rand.NewPCG(12, uint64(layers)))
		cfg := Config{Vocab: 7, EmbDim: 5, Dim: 6, Heads: 2, Hidden: 8, Layers: layers, MaxLen: 6, Classes: 2, HEFriendly: true, QuadShift: 2}
		m, err := New(cfg, PolyActivation("quad", approx.Poly{0.3, 0.5, 0.15}), rng)
		if err != nil {
			t.Fatal(err)
		}
		m.TrainEmb = true
		for _, b := range m.Blocks {
			for i := range b.LN.Gamma.W {
				b.LN.Gamma.W[i] = 1 + 0.3*rng.NormFloat64()
				b.LN.Beta.W[i] = 0.3 * rng.NormFloat64()
			}
		}
		ids, label := []int{3, 0, 6, 3, 1}, 1
		m.ZeroGrad()
		if _, _, err := m.Loss(ids, label, true); err != nil {
			t.Fatal(err)
		}
		loss := func() float64 { l, _, _ := m.Loss(ids, label, false); return l }
		for _, p := range m.Params() {
			checkGrad(t, "he/"+p.Name, loss, p.W, p.G)
		}
	}
}

// TestGradDistillLoss checks the distillation loss's gradient, and that
// weight 0 is the cross-entropy.
func TestGradDistillLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 1))
	m, err := New(Config{Vocab: 7, EmbDim: 5, Dim: 6, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 6, Classes: 2, HEFriendly: true, QuadShift: 2},
		PolyActivation("quad", approx.Poly{0.3, 0.5, 0.15}), rng)
	if err != nil {
		t.Fatal(err)
	}
	m.TrainEmb = true
	ids, label, teacher := []int{3, 0, 6, 1}, 1, []float64{0.7, -1.2}
	for _, c := range []struct{ w, temp float64 }{{0.5, 2}, {1, 1}, {0.3, 4}} {
		m.ZeroGrad()
		if _, _, err := m.DistillLoss(ids, label, teacher, c.w, c.temp, true); err != nil {
			t.Fatal(err)
		}
		loss := func() float64 { l, _, _ := m.DistillLoss(ids, label, teacher, c.w, c.temp, false); return l }
		for _, p := range m.Params() {
			checkGrad(t, "distill/"+p.Name, loss, p.W, p.G)
		}
	}
	a, _, _ := m.DistillLoss(ids, label, teacher, 0, 3, false)
	b, _, _ := m.Loss(ids, label, false)
	if math.Abs(a-b) > 1e-12 {
		t.Errorf("weight 0: distillation loss %v, cross-entropy %v", a, b)
	}
	// KL vanishes when the student is its own teacher.
	c, _ := m.Forward(ids)
	kl, _, _ := m.DistillLoss(ids, label, c.Logits, 1, 2, false)
	if math.Abs(kl) > 1e-12 {
		t.Errorf("self-distillation loss %v, want 0", kl)
	}
}
