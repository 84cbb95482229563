package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/internal/logits"
)

// Param is a trainable matrix and its accumulated gradient, both row-major.
type Param struct {
	Name string
	R, C int
	W, G []float64
}

func newParam(name string, r, c int) *Param {
	return &Param{Name: name, R: r, C: c, W: make([]float64, r*c), G: make([]float64, r*c)}
}

// Mat returns the value as a gonum matrix sharing p.W.
func (p *Param) Mat() *mat.Dense { return mat.NewDense(p.R, p.C, p.W) }

// Grad returns the gradient as a gonum matrix sharing p.G.
func (p *Param) Grad() *mat.Dense { return mat.NewDense(p.R, p.C, p.G) }

// ZeroGrad clears the gradient.
func (p *Param) ZeroGrad() { clear(p.G) }

// initGlorot fills p with U(−a, a), a = sqrt(6/(fanIn+fanOut)) (Glorot & Bengio 2010).
func (p *Param) initGlorot(rng *rand.Rand) {
	a := math.Sqrt(6 / float64(p.R+p.C))
	for i := range p.W {
		p.W[i] = (2*rng.Float64() - 1) * a
	}
}

// gemm computes c = alpha·op(a)·op(b) + beta·c.
func gemm(tA, tB bool, alpha float64, a, b mat.RawMatrixer, beta float64, c mat.RawMatrixer) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	blas64.Gemm(ta, tb, alpha, a.RawMatrix(), b.RawMatrix(), beta, c.RawMatrix())
}

// Linear is y = x·W + b for row vectors x.
type Linear struct {
	W, B *Param
}

func newLinear(name string, in, out int, rng *rand.Rand) Linear {
	l := Linear{W: newParam(name+".W", in, out), B: newParam(name+".b", 1, out)}
	l.W.initGlorot(rng)
	return l
}

// Forward returns x·W + b for the rows of x.
func (l Linear) Forward(x *mat.Dense) *mat.Dense {
	t, _ := x.Dims()
	y := mat.NewDense(t, l.W.C, nil)
	for i := 0; i < t; i++ {
		copy(y.RawRowView(i), l.B.W)
	}
	gemm(false, false, 1, x, l.W.Mat(), 1, y)
	return y
}

// Backward accumulates the parameter gradients for input x and output
// gradient dy, and returns the input gradient.
func (l Linear) Backward(x, dy *mat.Dense) *mat.Dense {
	t, in := x.Dims()
	gemm(true, false, 1, x, dy, 1, l.W.Grad())
	for i := 0; i < t; i++ {
		for j, v := range dy.RawRowView(i) {
			l.B.G[j] += v
		}
	}
	dx := mat.NewDense(t, in, nil)
	gemm(false, true, 1, dy, l.W.Mat(), 0, dx)
	return dx
}

func (l Linear) params() []*Param { return []*Param{l.W, l.B} }

// LayerNorm normalises each row to zero mean and unit variance, then
// scales by Gamma and shifts by Beta.
//
// With Affine it is the HE-friendly normalisation: each row is only
// centred, y = Gamma⊙(x − mean(x)) + Beta, with no division by the row's
// standard deviation, so the map is affine (a Dim×Dim matrix and a bias)
// and a CKKS server applies it as a plaintext product. The 1/σ that
// LayerNorm would divide by is absorbed into Gamma, which CalibrateNorm
// initialises from data and training then learns. This is LayerNorm with
// its statistics frozen, as in THE-X (Chen et al., "THE-X:
// Privacy-Preserving Transformer Inference with Homomorphic Encryption",
// Findings of ACL 2022) and FHE-BERT-tiny's precomputed LayerNorm, except
// that the frozen scale is per feature and trained rather than fixed
// after training.
type LayerNorm struct {
	Gamma, Beta *Param
	Eps         float64
	Affine      bool
}

func newLayerNorm(name string, d int) LayerNorm {
	ln := LayerNorm{Gamma: newParam(name+".gamma", 1, d), Beta: newParam(name+".beta", 1, d), Eps: 1e-5}
	for i := range ln.Gamma.W {
		ln.Gamma.W[i] = 1
	}
	return ln
}

type lnCache struct {
	xhat   *mat.Dense
	invStd []float64
}

// Forward normalises the rows of x.
func (ln LayerNorm) Forward(x *mat.Dense) (*mat.Dense, lnCache) {
	t, d := x.Dims()
	y := mat.NewDense(t, d, nil)
	c := lnCache{xhat: mat.NewDense(t, d, nil), invStd: make([]float64, t)}
	for i := 0; i < t; i++ {
		row := x.RawRowView(i)
		var mu float64
		for _, v := range row {
			mu += v
		}
		mu /= float64(d)
		var vr float64
		for _, v := range row {
			vr += (v - mu) * (v - mu)
		}
		vr /= float64(d)
		is := 1 / math.Sqrt(vr+ln.Eps)
		if ln.Affine {
			is = 1
		}
		c.invStd[i] = is
		xh, yr := c.xhat.RawRowView(i), y.RawRowView(i)
		for j, v := range row {
			xh[j] = (v - mu) * is
			yr[j] = ln.Gamma.W[j]*xh[j] + ln.Beta.W[j]
		}
	}
	return y, c
}

// Backward accumulates dGamma, dBeta and returns dx.
func (ln LayerNorm) Backward(c lnCache, dy *mat.Dense) *mat.Dense {
	t, d := dy.Dims()
	dx := mat.NewDense(t, d, nil)
	dxh := make([]float64, d)
	for i := 0; i < t; i++ {
		dyr, xh := dy.RawRowView(i), c.xhat.RawRowView(i)
		var m1, m2 float64
		for j := range dyr {
			ln.Gamma.G[j] += dyr[j] * xh[j]
			ln.Beta.G[j] += dyr[j]
			dxh[j] = dyr[j] * ln.Gamma.W[j]
			m1 += dxh[j]
			m2 += dxh[j] * xh[j]
		}
		m1 /= float64(d)
		m2 /= float64(d)
		dxr := dx.RawRowView(i)
		if ln.Affine { // the scale is a constant: only the centring remains
			m2 = 0
		}
		for j := range dxr {
			dxr[j] = c.invStd[i] * (dxh[j] - m1 - xh[j]*m2)
		}
	}
	return dx
}

func (ln LayerNorm) params() []*Param { return []*Param{ln.Gamma, ln.Beta} }

// Attention is multi-head scaled dot-product self-attention.
//
// With Quad = c > 0 the softmax of each score row is replaced by the
// polynomial weight a_ij = (s_ij + c)²/(n·c²), s_ij = q_i·k_j/√dh, over n
// tokens: MPCFormer's 2Quad (Li et al., "MPCFormer: fast, performant and
// private Transformer inference with MPC", ICLR 2023, arXiv:2211.01452),
// whose normaliser Σ_j (s_ij + c)² is fixed here to n·c², its value when
// all scores are 0, so that no division is left for a CKKS server (the
// client, which knows n, folds 1/n into the encoding). At s = 0 the
// weights are uniform, 1/n, like softmax of equal scores.
type Attention struct {
	Heads      int
	Q, K, V, O Linear
	Quad       float64
}

func newAttention(name string, d, heads int, rng *rand.Rand) Attention {
	return Attention{Heads: heads,
		Q: newLinear(name+".q", d, d, rng), K: newLinear(name+".k", d, d, rng),
		V: newLinear(name+".v", d, d, rng), O: newLinear(name+".o", d, d, rng)}
}

type attnCache struct {
	x, q, k, v, o *mat.Dense
	a             []*mat.Dense // per-head attention weights, T×T
	s             []*mat.Dense // per-head scaled scores, T×T (2Quad only)
}

// Forward returns the attention output for token rows x.
func (at Attention) Forward(x *mat.Dense) (*mat.Dense, attnCache) {
	t, d := x.Dims()
	dk := d / at.Heads
	scale := 1 / math.Sqrt(float64(dk))
	c := attnCache{x: x, q: at.Q.Forward(x), k: at.K.Forward(x), v: at.V.Forward(x), o: mat.NewDense(t, d, nil)}
	for h := 0; h < at.Heads; h++ {
		qh := c.q.Slice(0, t, h*dk, (h+1)*dk).(*mat.Dense)
		kh := c.k.Slice(0, t, h*dk, (h+1)*dk).(*mat.Dense)
		vh := c.v.Slice(0, t, h*dk, (h+1)*dk).(*mat.Dense)
		a := mat.NewDense(t, t, nil)
		gemm(false, true, scale, qh, kh, 0, a)
		if at.Quad > 0 {
			s := mat.DenseCopyOf(a)
			c.s = append(c.s, s)
			norm := float64(t) * at.Quad * at.Quad
			ad := a.RawMatrix().Data
			for i, v := range s.RawMatrix().Data {
				ad[i] = (v + at.Quad) * (v + at.Quad) / norm
			}
		} else {
			for i := 0; i < t; i++ {
				logits.Softmax(a.RawRowView(i))
			}
		}
		gemm(false, false, 1, a, vh, 0, c.o.Slice(0, t, h*dk, (h+1)*dk).(*mat.Dense))
		c.a = append(c.a, a)
	}
	return at.O.Forward(c.o), c
}

// Backward accumulates the parameter gradients and returns dx.
func (at Attention) Backward(c attnCache, dy *mat.Dense) *mat.Dense {
	t, d := c.x.Dims()
	dk := d / at.Heads
	scale := 1 / math.Sqrt(float64(dk))
	do := at.O.Backward(c.o, dy)
	dq, dkm, dv := mat.NewDense(t, d, nil), mat.NewDense(t, d, nil), mat.NewDense(t, d, nil)
	ds := mat.NewDense(t, t, nil)
	for h := 0; h < at.Heads; h++ {
		sl := func(m *mat.Dense) *mat.Dense { return m.Slice(0, t, h*dk, (h+1)*dk).(*mat.Dense) }
		a := c.a[h]
		// dA = dO_h·V_hᵀ, dV_h = Aᵀ·dO_h.
		gemm(false, true, 1, sl(do), sl(c.v), 0, ds)
		gemm(true, false, 1, a, sl(do), 0, sl(dv))
		if at.Quad > 0 {
			// 2Quad backward: dS = dA ⊙ 2(S + c)/(n·c²).
			norm := float64(t) * at.Quad * at.Quad
			dd := ds.RawMatrix().Data
			for i, v := range c.s[h].RawMatrix().Data {
				dd[i] *= 2 * (v + at.Quad) / norm
			}
			gemm(false, false, scale, ds, sl(c.k), 0, sl(dq))
			gemm(true, false, scale, ds, sl(c.q), 0, sl(dkm))
			continue
		}
		// Softmax backward row by row: dS = A ⊙ (dA − rowsum(dA ⊙ A)).
		for i := 0; i < t; i++ {
			ar, dr := a.RawRowView(i), ds.RawRowView(i)
			var s float64
			for j := range ar {
				s += ar[j] * dr[j]
			}
			for j := range ar {
				dr[j] = ar[j] * (dr[j] - s)
			}
		}
		gemm(false, false, scale, ds, sl(c.k), 0, sl(dq))
		gemm(true, false, scale, ds, sl(c.q), 0, sl(dkm))
	}
	dx := at.Q.Backward(c.x, dq)
	dx.Add(dx, at.K.Backward(c.x, dkm))
	dx.Add(dx, at.V.Backward(c.x, dv))
	return dx
}

func (at Attention) params() []*Param {
	var ps []*Param
	for _, l := range []Linear{at.Q, at.K, at.V, at.O} {
		ps = append(ps, l.params()...)
	}
	return ps
}

// Activation is the FFN nonlinearity: ReLU when Poly is nil, else the
// polynomial Poly.
type Activation struct {
	Name string
	Poly approx.Poly
}

// ReLU is the rectifier activation.
var ReLU = Activation{Name: "relu"}

// PolyActivation returns the activation x ↦ p(x).
func PolyActivation(name string, p approx.Poly) Activation {
	return Activation{Name: name, Poly: append(approx.Poly(nil), p...)}
}

// IsReLU reports whether a is ReLU.
func (a Activation) IsReLU() bool { return a.Poly == nil }

// Eval returns act(x).
func (a Activation) Eval(x float64) float64 {
	if a.Poly == nil {
		return math.Max(x, 0)
	}
	return a.Poly.Eval(x)
}

// Deriv returns act'(x) (ReLU'(0) is taken as 0).
func (a Activation) Deriv(x float64) float64 {
	if a.Poly == nil {
		if x > 0 {
			return 1
		}
		return 0
	}
	return a.Poly.Deriv(x)
}

func (a Activation) String() string {
	if a.Poly == nil {
		return "relu"
	}
	return fmt.Sprintf("%s%v", a.Name, []float64(a.Poly))
}

// FFN is the position-wise feed-forward network W2·act(W1·h + b1) + b2.
type FFN struct {
	In, Out Linear
}

type ffnCache struct {
	x, u, z *mat.Dense
}

// Forward applies the FFN to each row of x; hook, if not nil, sees the
// pre-activations u = x·W1 + b1.
func (f FFN) Forward(x *mat.Dense, act Activation, hook func(u *mat.Dense)) (*mat.Dense, ffnCache) {
	u := f.In.Forward(x)
	if hook != nil {
		hook(u)
	}
	r, c := u.Dims()
	z := mat.NewDense(r, c, nil)
	zr, ur := z.RawMatrix().Data, u.RawMatrix().Data
	for i, v := range ur {
		zr[i] = act.Eval(v)
	}
	return f.Out.Forward(z), ffnCache{x: x, u: u, z: z}
}

// Backward accumulates the parameter gradients and returns dx.
func (f FFN) Backward(c ffnCache, act Activation, dy *mat.Dense) *mat.Dense {
	dz := f.Out.Backward(c.z, dy)
	dzr, ur := dz.RawMatrix().Data, c.u.RawMatrix().Data
	for i, v := range ur {
		dzr[i] *= act.Deriv(v)
	}
	return f.In.Backward(c.x, dz)
}

func (f FFN) params() []*Param { return append(f.In.params(), f.Out.params()...) }

// MeanPool returns the mean of the rows of x.
func MeanPool(x *mat.Dense) []float64 {
	t, d := x.Dims()
	p := make([]float64, d)
	for i := 0; i < t; i++ {
		for j, v := range x.RawRowView(i) {
			p[j] += v
		}
	}
	for j := range p {
		p[j] /= float64(t)
	}
	return p
}

// MeanPoolBackward spreads dp evenly over t rows.
func MeanPoolBackward(dp []float64, t int) *mat.Dense {
	dx := mat.NewDense(t, len(dp), nil)
	for i := 0; i < t; i++ {
		r := dx.RawRowView(i)
		for j, v := range dp {
			r[j] = v / float64(t)
		}
	}
	return dx
}
