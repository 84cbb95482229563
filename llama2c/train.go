package llama2c

import (
	"errors"
	"fmt"
	"github.com/krelu/krelu/internal/logits"
	"math"

	"github.com/krelu/krelu/optim"
)

// Weights are a model's parameters in float64 for training, with a
// trainable polynomial FFN activation per layer. The inference Model keeps
// float32 weights as stored; Weights.Model converts back.
type Weights struct {
	Config
	TokenEmbedding []float64 // VocabSize × Dim
	Layers         []LayerWeights
	RMSFinal       []float64 // Dim
	// Classifier aliases TokenEmbedding when SharedClassifier (tied).
	Classifier []float64
	// Gate[l] holds the power-basis coefficients of layer l's FFN
	// activation p, so the block computes w2(p(w1·x) ⊙ w3·x); nil means
	// SiLU (not trainable).
	Gate [][]float64
	// The rotary tables (SeqLen × HeadSize/2), fixed.
	cos, sin []float64
}

// LayerWeights are one block's weights, row-major (out, in) as in Layer.
type LayerWeights struct {
	RMSAtt, WQ, WK, WV, WO, RMSFFN, W1, W2, W3 []float64
}

func to64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func to32(s []float64) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

// NewWeights copies m's weights into float64 with SiLU in every layer.
func NewWeights(m *Model) *Weights {
	w := &Weights{
		Config:         m.Config,
		TokenEmbedding: to64(m.TokenEmbedding),
		RMSFinal:       to64(m.RMSFinal),
		Gate:           make([][]float64, m.NLayers),
		cos:            to64(m.FreqCisReal),
		sin:            to64(m.FreqCisImag),
	}
	if m.SharedClassifier {
		w.Classifier = w.TokenEmbedding
	} else {
		w.Classifier = to64(m.Classifier)
	}
	for _, L := range m.Layers {
		w.Layers = append(w.Layers, LayerWeights{
			RMSAtt: to64(L.RMSAtt), WQ: to64(L.WQ), WK: to64(L.WK), WV: to64(L.WV), WO: to64(L.WO),
			RMSFFN: to64(L.RMSFFN), W1: to64(L.W1), W2: to64(L.W2), W3: to64(L.W3),
		})
	}
	return w
}

// Model rounds the weights to float32 into an inference model. The gate
// polynomials are not part of llama2.c's format: run the model with
// GateFuncs (or keep them beside the checkpoint).
func (w *Weights) Model() *Model {
	m := &Model{
		Config:         w.Config,
		TokenEmbedding: to32(w.TokenEmbedding),
		RMSFinal:       to32(w.RMSFinal),
		FreqCisReal:    to32(w.cos),
		FreqCisImag:    to32(w.sin),
	}
	if w.SharedClassifier {
		m.Classifier = m.TokenEmbedding
	} else {
		m.Classifier = to32(w.Classifier)
	}
	for _, L := range w.Layers {
		m.Layers = append(m.Layers, Layer{
			RMSAtt: to32(L.RMSAtt), WQ: to32(L.WQ), WK: to32(L.WK), WV: to32(L.WV), WO: to32(L.WO),
			RMSFFN: to32(L.RMSFFN), W1: to32(L.W1), W2: to32(L.W2), W3: to32(L.W3),
		})
	}
	return m
}

// GateFuncs returns each layer's activation as a function (SiLU where the
// gate is nil), for State.SetLayerActivation or Compare.
func (w *Weights) GateFuncs() []func(float64) float64 {
	out := make([]func(float64) float64, w.NLayers)
	for l, c := range w.Gate {
		if c == nil {
			out[l] = SiLU
			continue
		}
		c := append([]float64(nil), c...)
		out[l] = func(x float64) float64 { return polyEval(c, x) }
	}
	return out
}

// Clone returns a deep copy.
func (w *Weights) Clone() *Weights {
	c := w.zeroLike()
	c.Add(w)
	return c
}

// zeroLike returns weights of the same shapes, all zero (gates nil where
// w's are), sharing the rotary tables: a gradient accumulator.
func (w *Weights) zeroLike() *Weights {
	z := func(s []float64) []float64 { return make([]float64, len(s)) }
	g := &Weights{Config: w.Config, TokenEmbedding: z(w.TokenEmbedding), RMSFinal: z(w.RMSFinal),
		Gate: make([][]float64, len(w.Gate)), cos: w.cos, sin: w.sin}
	if w.SharedClassifier {
		g.Classifier = g.TokenEmbedding
	} else {
		g.Classifier = z(w.Classifier)
	}
	for _, L := range w.Layers {
		g.Layers = append(g.Layers, LayerWeights{RMSAtt: z(L.RMSAtt), WQ: z(L.WQ), WK: z(L.WK), WV: z(L.WV), WO: z(L.WO),
			RMSFFN: z(L.RMSFFN), W1: z(L.W1), W2: z(L.W2), W3: z(L.W3)})
	}
	for l, c := range w.Gate {
		if c != nil {
			g.Gate[l] = z(c)
		}
	}
	return g
}

// slices lists every trainable tensor once (the tied classifier once).
func (w *Weights) slices() [][]float64 {
	out := [][]float64{w.TokenEmbedding}
	for i := range w.Layers {
		L := &w.Layers[i]
		out = append(out, L.RMSAtt, L.WQ, L.WK, L.WV, L.WO, L.RMSFFN, L.W1, L.W2, L.W3)
	}
	out = append(out, w.RMSFinal)
	if !w.SharedClassifier {
		out = append(out, w.Classifier)
	}
	for _, c := range w.Gate {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Add adds o (same shapes) to w.
func (w *Weights) Add(o *Weights) {
	a, b := w.slices(), o.slices()
	for k := range a {
		for i, v := range b[k] {
			a[k][i] += v
		}
	}
}

// Zero sets every value to zero.
func (w *Weights) Zero() {
	for _, s := range w.slices() {
		clear(s)
	}
}

// Tensors pairs w's values with the gradients in g for optim.Adam. With
// freezeGate the activation polynomials stay fixed.
func (w *Weights) Tensors(g *Weights, freezeGate bool) []optim.Tensor {
	v, d := w.slices(), g.slices()
	out := make([]optim.Tensor, len(v))
	nGate := 0
	for _, c := range w.Gate {
		if c != nil {
			nGate++
		}
	}
	for k := range v {
		out[k] = optim.Tensor{Value: v[k], Grad: d[k], Frozen: freezeGate && k >= len(v)-nGate}
	}
	return out
}

// polyEval evaluates Σ c_i x^i by Horner's rule.
func polyEval(c []float64, x float64) float64 {
	var y float64
	for i := len(c) - 1; i >= 0; i-- {
		y = y*x + c[i]
	}
	return y
}

// polyDeriv evaluates d/dx Σ c_i x^i.
func polyDeriv(c []float64, x float64) float64 {
	var y float64
	for i := len(c) - 1; i >= 1; i-- {
		y = y*x + float64(i)*c[i]
	}
	return y
}

func siluDeriv(x float64) float64 {
	s := 1 / (1 + math.Exp(-x))
	return s * (1 + x*(1-s))
}

// Tape holds what the backward pass needs from the forward pass of one
// sequence. It is reused across sequences of at most the length it was
// sized for; one per goroutine.
type Tape struct {
	t      int
	tokens []int
	layers []layerTape
	xLast  []float64 // T × Dim: input of the final norm
	invF   []float64 // T
	xn     []float64 // T × Dim
	logits []float64 // T × VocabSize
}

type layerTape struct {
	xIn, xa, q, o, xMid, xf []float64 // T × Dim
	k, v                    []float64 // T × KVDim
	att                     []float64 // NHeads × T × T (row t, columns ≤ t)
	h1, h3                  []float64 // T × HiddenDim
	invA, invF              []float64 // T
}

func (tp *Tape) size(c Config, t int) {
	if tp.t >= t && len(tp.layers) == c.NLayers {
		return
	}
	d, kv, h := c.Dim, c.KVDim(), c.HiddenDim
	f := func(n int) []float64 { return make([]float64, n) }
	tp.t = t
	tp.layers = make([]layerTape, c.NLayers)
	for l := range tp.layers {
		tp.layers[l] = layerTape{xIn: f(t * d), xa: f(t * d), q: f(t * d), o: f(t * d), xMid: f(t * d), xf: f(t * d),
			k: f(t * kv), v: f(t * kv), att: f(c.NHeads * t * t), h1: f(t * h), h3: f(t * h), invA: f(t), invF: f(t)}
	}
	tp.xLast, tp.invF, tp.xn, tp.logits = f(t*d), f(t), f(t*d), f(t*c.VocabSize)
}

// Logits returns the logits of position pos of the last Forward.
func (tp *Tape) Logits(pos int, vocab int) []float64 {
	return tp.logits[pos*vocab : (pos+1)*vocab]
}

// ErrNotFinite is returned by the training forward pass when the residual
// stream overflows.
var ErrNotFinite = errors.New("llama2c: training forward pass is not finite (the activation diverged)")

// Forward runs the whole sequence tokens (from position 0) through w,
// recording in tp what Backward needs; tp.Logits(pos) are the next-token
// logits at each position. It equals State.Forward position by position
// (test TestTrainForwardMatchesInference).
func (w *Weights) Forward(tokens []int, tp *Tape) error {
	c := w.Config
	T := len(tokens)
	if T == 0 || T > c.SeqLen {
		return fmt.Errorf("llama2c: sequence of %d tokens (want 1..%d)", T, c.SeqLen)
	}
	for _, id := range tokens {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("llama2c: token %d out of range [0, %d)", id, c.VocabSize)
		}
	}
	tp.size(c, T)
	tp.tokens = tokens
	tp.t = max(tp.t, T)
	d, hd, V := c.Dim, c.HiddenDim, c.VocabSize
	x := make([]float64, T*d)
	for t, id := range tokens {
		copy(x[t*d:(t+1)*d], w.TokenEmbedding[id*d:(id+1)*d])
	}
	tmp := make([]float64, d)
	m := make([]float64, hd)
	for l := range w.Layers {
		L, lt := &w.Layers[l], &tp.layers[l]
		w.attnStage(l, T, x, lt, tmp)
		for t := range T {
			xf := lt.xf[t*d : (t+1)*d]
			lt.invF[t] = rmsnormFwd(xf, x[t*d:(t+1)*d], L.RMSFFN)
			h1, h3 := lt.h1[t*hd:(t+1)*hd], lt.h3[t*hd:(t+1)*hd]
			mv(h1, L.W1, xf)
			mv(h3, L.W3, xf)
			gateFwd(m, h1, h3, w.Gate[l])
			mv(tmp, L.W2, m)
			xt := x[t*d : (t+1)*d]
			for i := range xt {
				xt[i] += tmp[i]
			}
		}
	}
	copy(tp.xLast, x[:T*d])
	for t := range T {
		xn := tp.xn[t*d : (t+1)*d]
		tp.invF[t] = rmsnormFwd(xn, x[t*d:(t+1)*d], w.RMSFinal)
		mv(tp.logits[t*V:(t+1)*V], w.Classifier, xn)
	}
	for _, v := range tp.logits[:T*V] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ErrNotFinite
		}
	}
	return nil
}

// attnStage runs layer l's attention half on the residual stream x (T ×
// Dim) in place, recording it in lt, and leaves the FFN input's residual
// in lt.xMid.
func (w *Weights) attnStage(l, T int, x []float64, lt *layerTape, tmp []float64) {
	c := w.Config
	d, kv := c.Dim, c.KVDim()
	L := &w.Layers[l]
	copy(lt.xIn, x[:T*d])
	for t := range T {
		xa := lt.xa[t*d : (t+1)*d]
		lt.invA[t] = rmsnormFwd(xa, x[t*d:(t+1)*d], L.RMSAtt)
		q, k, v := lt.q[t*d:(t+1)*d], lt.k[t*kv:(t+1)*kv], lt.v[t*kv:(t+1)*kv]
		mv(q, L.WQ, xa)
		mv(k, L.WK, xa)
		mv(v, L.WV, xa)
		w.rope(q, t, false)
		w.rope(k, t, false)
	}
	attentionFwd(c, T, lt.q, lt.k, lt.v, lt.att, lt.o)
	for t := range T {
		mv(tmp, L.WO, lt.o[t*d:(t+1)*d])
		xt := x[t*d : (t+1)*d]
		for i := range xt {
			xt[i] += tmp[i]
		}
	}
	copy(lt.xMid, x[:T*d])
}

// Backward adds to g the gradient of a loss whose gradient with respect to
// the logits of the last Forward on tp is dlogits (T × VocabSize).
func (w *Weights) Backward(tp *Tape, dlogits []float64, g *Weights) {
	c := w.Config
	T := len(tp.tokens)
	d, kv, hd, V := c.Dim, c.KVDim(), c.HiddenDim, c.VocabSize
	dx := make([]float64, T*d)
	dxn := make([]float64, d)
	for t := range T {
		dl := dlogits[t*V : (t+1)*V]
		xn := tp.xn[t*d : (t+1)*d]
		clear(dxn)
		mvTAdd(dxn, w.Classifier, dl)
		outerAdd(g.Classifier, dl, xn)
		rmsnormBwd(dx[t*d:(t+1)*d], g.RMSFinal, dxn, tp.xLast[t*d:(t+1)*d], w.RMSFinal, tp.invF[t])
	}
	dxf := make([]float64, d)
	dm := make([]float64, hd)
	dh1 := make([]float64, hd)
	dh3 := make([]float64, hd)
	m := make([]float64, hd)
	do := make([]float64, T*d)
	dq := make([]float64, T*d)
	dk := make([]float64, T*kv)
	dv := make([]float64, T*kv)
	dxa := make([]float64, d)
	for l := len(w.Layers) - 1; l >= 0; l-- {
		L, G, lt := &w.Layers[l], &g.Layers[l], &tp.layers[l]
		// FFN: x += W2 (p(W1 xf) ⊙ W3 xf), xf = rmsnorm(xMid).
		for t := range T {
			dy := dx[t*d : (t+1)*d]
			h1, h3 := lt.h1[t*hd:(t+1)*hd], lt.h3[t*hd:(t+1)*hd]
			gateFwd(m, h1, h3, w.Gate[l])
			outerAdd(G.W2, dy, m)
			clear(dm)
			mvTAdd(dm, L.W2, dy)
			gateBwd(dh1, dh3, g.Gate[l], dm, h1, h3, w.Gate[l])
			xf := lt.xf[t*d : (t+1)*d]
			outerAdd(G.W1, dh1, xf)
			outerAdd(G.W3, dh3, xf)
			clear(dxf)
			mvTAdd(dxf, L.W1, dh1)
			mvTAdd(dxf, L.W3, dh3)
			rmsnormBwd(dy, G.RMSFFN, dxf, lt.xMid[t*d:(t+1)*d], L.RMSFFN, lt.invF[t])
		}
		// Attention: x += WO o.
		for t := range T {
			dy := dx[t*d : (t+1)*d]
			outerAdd(G.WO, dy, lt.o[t*d:(t+1)*d])
			o := do[t*d : (t+1)*d]
			clear(o)
			mvTAdd(o, L.WO, dy)
		}
		clear(dq)
		clear(dk)
		clear(dv)
		attentionBwd(c, T, lt.q, lt.k, lt.v, lt.att, do, dq, dk, dv)
		for t := range T {
			q, k, v := dq[t*d:(t+1)*d], dk[t*kv:(t+1)*kv], dv[t*kv:(t+1)*kv]
			w.rope(q, t, true)
			w.rope(k, t, true)
			xa := lt.xa[t*d : (t+1)*d]
			outerAdd(G.WQ, q, xa)
			outerAdd(G.WK, k, xa)
			outerAdd(G.WV, v, xa)
			clear(dxa)
			mvTAdd(dxa, L.WQ, q)
			mvTAdd(dxa, L.WK, k)
			mvTAdd(dxa, L.WV, v)
			rmsnormBwd(dx[t*d:(t+1)*d], G.RMSAtt, dxa, lt.xIn[t*d:(t+1)*d], L.RMSAtt, lt.invA[t])
		}
	}
	for t, id := range tp.tokens {
		e := g.TokenEmbedding[id*d : (id+1)*d]
		for i, v := range dx[t*d : (t+1)*d] {
			e[i] += v
		}
	}
}

// rope rotates each (even, odd) pair of every head of v by position t's
// angle, or by its negative when inverse (the transpose, for Backward).
func (w *Weights) rope(v []float64, t int, inverse bool) {
	hs := w.HeadSize()
	half := hs / 2
	cs, sn := w.cos[t*half:(t+1)*half], w.sin[t*half:(t+1)*half]
	for i := 0; i < len(v); i += 2 {
		j := (i % hs) / 2
		cr, ci := cs[j], sn[j]
		if inverse {
			ci = -ci
		}
		a, b := v[i], v[i+1]
		v[i] = a*cr - b*ci
		v[i+1] = a*ci + b*cr
	}
}

// rmsnormFwd sets o = w ⊙ x · inv with inv = 1/sqrt(mean(x²)+1e-5) and
// returns inv.
func rmsnormFwd(o, x, w []float64) float64 {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	inv := 1 / math.Sqrt(ss/float64(len(x))+1e-5)
	for i := range o {
		o[i] = w[i] * inv * x[i]
	}
	return inv
}

// rmsnormBwd adds to dx and dw the gradient through o = w ⊙ x · inv(x)
// given do: dx = inv·(w⊙do) − inv³/n · x · Σ w_j do_j x_j.
func rmsnormBwd(dx, dw, do, x, w []float64, inv float64) {
	var s float64
	for i := range x {
		dw[i] += do[i] * x[i] * inv
		s += w[i] * do[i] * x[i]
	}
	k := inv * inv * inv * s / float64(len(x))
	for i := range x {
		dx[i] += inv*w[i]*do[i] - k*x[i]
	}
}

// attentionFwd computes causal grouped-query attention for T positions:
// q (T × Dim), k, v (T × KVDim) → o (T × Dim), keeping the softmax
// probabilities in att (NHeads × T × T).
func attentionFwd(c Config, T int, q, k, v, att, o []float64) {
	d, kv, hs := c.Dim, c.KVDim(), c.HeadSize()
	kvMul := c.NHeads / c.NKVHeads
	scale := 1 / math.Sqrt(float64(hs))
	for h := range c.NHeads {
		ko := (h / kvMul) * hs
		for t := range T {
			qt := q[t*d+h*hs : t*d+h*hs+hs]
			a := att[(h*T+t)*T : (h*T+t)*T+t+1]
			for s := range a {
				ks := k[s*kv+ko : s*kv+ko+hs]
				var dot float64
				for i, x := range qt {
					dot += x * ks[i]
				}
				a[s] = dot * scale
			}
			logits.Softmax(a)
			ot := o[t*d+h*hs : t*d+h*hs+hs]
			clear(ot)
			for s, p := range a {
				vs := v[s*kv+ko : s*kv+ko+hs]
				for i := range ot {
					ot[i] += p * vs[i]
				}
			}
		}
	}
}

// attentionBwd adds to dq, dk, dv the gradient through attentionFwd given
// do, using the stored probabilities.
func attentionBwd(c Config, T int, q, k, v, att, do, dq, dk, dv []float64) {
	d, kv, hs := c.Dim, c.KVDim(), c.HeadSize()
	kvMul := c.NHeads / c.NKVHeads
	scale := 1 / math.Sqrt(float64(hs))
	da := make([]float64, T)
	for h := range c.NHeads {
		ko := (h / kvMul) * hs
		for t := range T {
			a := att[(h*T+t)*T : (h*T+t)*T+t+1]
			dot := do[t*d+h*hs : t*d+h*hs+hs]
			var sum float64
			for s, p := range a {
				vs := v[s*kv+ko : s*kv+ko+hs]
				dvs := dv[s*kv+ko : s*kv+ko+hs]
				var g float64
				for i, x := range dot {
					g += x * vs[i]
					dvs[i] += p * x
				}
				da[s] = g
				sum += p * g
			}
			qt := q[t*d+h*hs : t*d+h*hs+hs]
			dqt := dq[t*d+h*hs : t*d+h*hs+hs]
			for s, p := range a {
				ds := p * (da[s] - sum) * scale
				ks := k[s*kv+ko : s*kv+ko+hs]
				dks := dk[s*kv+ko : s*kv+ko+hs]
				for i := range qt {
					dqt[i] += ds * ks[i]
					dks[i] += ds * qt[i]
				}
			}
		}
	}
}

// gateFwd sets m = p(h1) ⊙ h3 (p = SiLU when c is nil).
func gateFwd(m, h1, h3, c []float64) {
	for i, z := range h1 {
		var a float64
		if c == nil {
			a = SiLU(z)
		} else {
			a = polyEval(c, z)
		}
		m[i] = a * h3[i]
	}
}

// gateBwd sets dh1, dh3 from dm through m = p(h1) ⊙ h3 and adds the
// coefficient gradient to dc (when the gate is a polynomial).
func gateBwd(dh1, dh3, dc, dm, h1, h3, c []float64) {
	for i, z := range h1 {
		var a, da float64
		if c == nil {
			a, da = SiLU(z), siluDeriv(z)
		} else {
			a, da = polyEval(c, z), polyDeriv(c, z)
			g, zk := dm[i]*h3[i], 1.0
			for j := range dc {
				dc[j] += g * zk
				zk *= z
			}
		}
		dh3[i] = dm[i] * a
		dh1[i] = dm[i] * h3[i] * da
	}
}

// mv sets out = W·x, W row-major len(out) × len(x).
func mv(out, w, x []float64) {
	n := len(x)
	for i := range out {
		row := w[i*n : (i+1)*n : (i+1)*n]
		var s float64
		for j, v := range row {
			s += v * x[j]
		}
		out[i] = s
	}
}

// mvTAdd adds Wᵀ·y to dx (W is len(y) × len(dx)).
func mvTAdd(dx, w, y []float64) {
	n := len(dx)
	for i, g := range y {
		if g == 0 {
			continue
		}
		row := w[i*n : (i+1)*n : (i+1)*n]
		for j, v := range row {
			dx[j] += g * v
		}
	}
}

// outerAdd adds y ⊗ x to dW (len(y) × len(x)).
func outerAdd(dw, y, x []float64) {
	n := len(x)
	for i, g := range y {
		if g == 0 {
			continue
		}
		row := dw[i*n : (i+1)*n : (i+1)*n]
		for j, v := range x {
			row[j] += g * v
		}
	}
}

// DistillLoss scores one sequence's student logits (T × V) against the
// teacher's next-token log-probabilities teacherLogP (T × V): klW times
// Σ_t KL(p_teacher ‖ p_student) plus ceW times the cross-entropy of the
// sequence's own next tokens (positions 0..T−2). It sets dlogits to the
// gradient of that sum and returns the two summed terms (unweighted).
// This is knowledge distillation (Hinton, Vinyals & Dean, "Distilling the
// Knowledge in a Neural Network", arXiv:1503.02531) at temperature 1.
func DistillLoss(logits, teacherLogP []float64, tokens []int, V int, klW, ceW float64, dlogits []float64) (kl, ce float64) {
	T := len(tokens)
	ls := make([]float64, V)
	for t := range T {
		lg, dl := logits[t*V:(t+1)*V], dlogits[t*V:(t+1)*V]
		logSoftmax(ls, lg)
		clear(dl)
		if klW != 0 {
			lt := teacherLogP[t*V : (t+1)*V]
			for i, l := range lt {
				p := math.Exp(l)
				kl += p * (l - ls[i])
				dl[i] += klW * (math.Exp(ls[i]) - p)
			}
		}
		if ceW != 0 && t+1 < T {
			next := tokens[t+1]
			ce -= ls[next]
			for i := range dl {
				dl[i] += ceW * math.Exp(ls[i])
			}
			dl[next] -= ceW
		}
	}
	return kl, ce
}

// LogProbs returns log softmax of the logits of every position of the
// last Forward on tp (T × VocabSize), a teacher's targets for DistillLoss.
func (tp *Tape) LogProbs(V int) []float64 {
	T := len(tp.tokens)
	out := make([]float64, T*V)
	for t := range T {
		logSoftmax(out[t*V:(t+1)*V], tp.logits[t*V:(t+1)*V])
	}
	return out
}

// AllLogits returns the logits of the first T positions of the last
// Forward (T × V), for DistillLoss.
func (tp *Tape) AllLogits(T, V int) []float64 { return tp.logits[:T*V] }
