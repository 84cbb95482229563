package approx

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/krelu/krelu/activation"
	"gonum.org/v1/gonum/mat"
)

// Gauss–Kronrod 7–15 rule (QUADPACK qk15): Kronrod nodes on [0,1] of the
// symmetric rule, their weights, and the Gauss weights of the odd-indexed
// nodes.
var (
	gkX = [8]float64{
		0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
		0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
		0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
		0.207784955007898467600689403773245, 0,
	}
	gkWK = [8]float64{
		0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
		0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
		0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
		0.204432940075298892414161999234649, 0.209482141084727828012999174891714,
	}
	gkWG = [4]float64{
		0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
		0.381830050505118944950369775488975, 0.417959183673469387755102040816327,
	}
)

// quadNode is one node of a composite quadrature rule.
type quadNode struct{ x, w float64 }

// gkSeg is one segment of an adaptive Gauss–Kronrod integration.
type gkSeg struct {
	a, b float64
	val  []float64
	err  float64
}

type gkHeap []*gkSeg

func (h gkHeap) Len() int           { return len(h) }
func (h gkHeap) Less(i, j int) bool { return h[i].err > h[j].err }
func (h gkHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *gkHeap) Push(x any)        { *h = append(*h, x.(*gkSeg)) }
func (h *gkHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	*h = old[:len(old)-1]
	return s
}

// gk15 applies the Gauss–Kronrod 7–15 rule (QUADPACK qk15) to the
// m-vector function g on [a, b], where m = len(kr), visiting the 15 nodes
// from left to right. It leaves the Kronrod and 7-point Gauss sums in kr
// and ga, to be multiplied by the returned half-width (callers differ in
// whether they subtract before scaling), and uses buf (length m) for the
// values of g. It is the one Gauss–Kronrod rule of the package: the
// adaptive vector integrator and the scalar kernel smoother both call it.
func gk15(g func(x float64, out []float64), a, b float64, kr, ga, buf []float64) (halfWidth float64) {
	c, r := (a+b)/2, (b-a)/2
	clear(kr)
	clear(ga)
	for i := range 15 {
		var x, wk, wg float64
		switch {
		case i < 7:
			x, wk = c-r*gkX[i], gkWK[i]
			if i%2 == 1 {
				wg = gkWG[i/2]
			}
		case i == 7:
			x, wk, wg = c, gkWK[7], gkWG[3]
		default:
			j := 14 - i
			x, wk = c+r*gkX[j], gkWK[j]
			if j%2 == 1 {
				wg = gkWG[j/2]
			}
		}
		g(x, buf)
		for k := range kr {
			kr[k] += wk * buf[k]
			ga[k] += wg * buf[k]
		}
	}
	return r
}

// gkApply integrates g over [a, b] into a new segment whose error
// estimate is the largest |Kronrod − Gauss| over the m components.
func gkApply(g func(x float64, out []float64), m int, a, b float64, buf []float64) *gkSeg {
	kr, ga := make([]float64, m), make([]float64, m)
	r := gk15(g, a, b, kr, ga, buf)
	var e float64
	for k := range m {
		kr[k] *= r
		ga[k] *= r
		e = math.Max(e, math.Abs(kr[k]-ga[k]))
	}
	return &gkSeg{a: a, b: b, val: kr, err: e}
}

// adaptiveGK integrates the m-vector function g over the partition given
// by the sorted breakpoints, bisecting the segment with the largest error
// until the summed Kronrod–Gauss error estimate is below
// max(absTol, relTol·max|∫g|). Breakpoints should include every kink of g
// (the kink of ReLU at 0, interval ends, density discontinuities): there
// the rule converges at once instead of by slow bisection. It returns the
// integrals and the Kronrod nodes of the final partition, so that callers
// can solve a least-squares problem on a discrete measure equal to the
// continuous one to quadrature accuracy.
func adaptiveGK(g func(x float64, out []float64), m int, breaks []float64, relTol, absTol float64, maxSeg int) ([]float64, []quadNode, error) {
	buf := make([]float64, m)
	h := &gkHeap{}
	for i := 0; i+1 < len(breaks); i++ {
		if breaks[i+1] > breaks[i] {
			heap.Push(h, gkApply(g, m, breaks[i], breaks[i+1], buf))
		}
	}
	if h.Len() == 0 {
		return nil, nil, errors.New("approx: quadrature over an empty interval")
	}
	total := func() ([]float64, float64) {
		v := make([]float64, m)
		var e float64
		for _, s := range *h {
			for k := range m {
				v[k] += s.val[k]
			}
			e += s.err
		}
		return v, e
	}
	// Running totals make each bisection O(m) instead of O(segments);
	// the final integrals are re-summed from scratch.
	v, e := total()
	var conv bool
	for {
		var scale float64
		for _, x := range v {
			scale = math.Max(scale, math.Abs(x))
		}
		if math.IsNaN(e) {
			return nil, nil, errors.New("approx: quadrature produced NaN (target or density not finite on the interval)")
		}
		if e <= math.Max(absTol, relTol*scale) {
			conv = true
			break
		}
		if h.Len() >= maxSeg {
			break
		}
		s := heap.Pop(h).(*gkSeg)
		mid := s.a + (s.b-s.a)/2
		if !(mid > s.a && mid < s.b) {
			// Cannot split further: accept the segment as is.
			e -= s.err
			s.err = 0
			heap.Push(h, s)
			continue
		}
		l, r := gkApply(g, m, s.a, mid, buf), gkApply(g, m, mid, s.b, buf)
		for k := range m {
			v[k] += l.val[k] + r.val[k] - s.val[k]
		}
		e += l.err + r.err - s.err
		heap.Push(h, l)
		heap.Push(h, r)
	}
	v, e = total()
	if !conv {
		// The integrals are still returned, for callers that can live
		// with a looser accuracy (metrics of a noisy high-degree fit).
		return v, nil, &quadError{est: e, segs: h.Len()}
	}
	nodes := make([]quadNode, 0, 15*h.Len())
	for _, s := range *h {
		c, r := (s.a+s.b)/2, (s.b-s.a)/2
		for i := range 8 {
			nodes = append(nodes, quadNode{c - r*gkX[i], r * gkWK[i]})
			if i < 7 {
				nodes = append(nodes, quadNode{c + r*gkX[i], r * gkWK[i]})
			}
		}
	}
	return v, nodes, nil
}

// quadError reports an adaptive quadrature that missed its tolerance.
type quadError struct {
	est  float64
	segs int
}

func (e *quadError) Error() string {
	return fmt.Sprintf("approx: adaptive quadrature did not converge (error estimate %.3g after %d segments)", e.est, e.segs)
}

// distBreaks returns the breakpoints for integrating against d on
// [lo,hi]: the ends, 0 (the kink of ReLU), the extra kinks, and quantiles
// of d (and of its mixture components) so that a narrow density on a wide
// interval is never missed by the first, coarse rule.
func distBreaks(d Dist, lo, hi float64, extra []float64) []float64 {
	pts := []float64{lo, hi, 0}
	pts = append(pts, extra...)
	ps := []float64{0, 1e-12, 1e-8, 1e-5, 1e-3, 0.01, 0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.95, 0.99, 0.999, 1 - 1e-5, 1 - 1e-8, 1 - 1e-12, 1}
	add := func(d Dist) {
		for _, p := range ps {
			pts = append(pts, d.Quantile(p))
		}
	}
	add(d)
	if m, ok := d.(*Mixture); ok {
		for _, c := range m.Components {
			add(c)
		}
	}
	out := pts[:0:0]
	for _, x := range pts {
		if x >= lo && x <= hi && !math.IsNaN(x) {
			out = append(out, x)
		}
	}
	return sortUnique(out)
}

// sortUnique sorts xs in place and drops repeated values: break points
// and grids must be strictly increasing, or the quadrature and Remez
// searches would create empty panels.
func sortUnique(xs []float64) []float64 {
	if len(xs) == 0 {
		return xs
	}
	sort.Float64s(xs)
	out := xs[:1]
	for _, x := range xs[1:] {
		if x > out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// quadTol is the relative accuracy asked of every adaptive quadrature;
// it leaves fitted coefficients accurate to well below 1e-9.
const quadTol = 1e-13

// lsResult is a least-squares fit with its bookkeeping.
type lsResult struct {
	cheb        []float64 // Chebyshev coefficients on [lo,hi]
	n           int       // sample size (0 for a Dist)
	nIn         int       // samples inside [lo,hi]
	outsideFrac float64   // calibration mass outside [lo,hi]
}

// FitLS returns the degree-deg polynomial minimising the mean squared
// error E[(p(X) − f(X))² | lo ≤ X ≤ hi] + ridge·Σ a_k², where X follows
// src and a_k are the Chebyshev coefficients of p on [lo,hi].
//
// The fit is on the interval only: values outside it are excluded (their
// fraction is reported by FitActivation and ChooseInterval), because the
// interval is where the polynomial is meant to be accurate and a
// quadratic cannot follow ReLU's tails anyway.
//
// For a Dist the integrals are computed by adaptive Gauss–Kronrod
// quadrature split at 0 and at quantiles (relative accuracy 1e-13) and the
// problem is solved by QR on the quadrature-weighted Chebyshev design. For
// a *Sample the fit streams once over the data accumulating the Chebyshev
// moments Σ T_m(t_i), m ≤ 2·deg, and Σ T_j(t_i)·f(x_i) in the scaled
// variable t ∈ [−1,1] (O(deg) memory, two goroutines), then solves the
// normal equations by Cholesky; in the Chebyshev basis they stay well
// conditioned for degrees used in practice, and a near-singular system is
// reported as an error.
func FitLS(f Target, src Source, deg int, lo, hi, ridge float64) (Poly, error) {
	r, err := fitLS(f, src, deg, lo, hi, ridge, nil)
	if err != nil {
		return nil, err
	}
	return ChebyshevToPower(r.cheb, lo, hi), nil
}

func fitLS(f Target, src Source, deg int, lo, hi, ridge float64, kinks []float64) (*lsResult, error) {
	if err := checkFitArgs(f, deg, lo, hi); err != nil {
		return nil, err
	}
	if math.IsNaN(ridge) || ridge < 0 || math.IsInf(ridge, 0) {
		return nil, fmt.Errorf("approx: ridge %v must be finite and ≥ 0", ridge)
	}
	switch s := src.(type) {
	case Dist:
		return fitLSDist(f, s, deg, lo, hi, ridge, kinks)
	case *Sample:
		return fitLSSample(f, s, deg, lo, hi, ridge)
	case nil:
		return nil, errors.New("approx: nil calibration source")
	}
	return nil, fmt.Errorf("approx: unsupported source type %T", src)
}

func fitLSDist(f Target, d Dist, deg int, lo, hi, ridge float64, kinks []float64) (*lsResult, error) {
	mass := d.CDF(hi) - d.CDF(lo)
	if !(mass > 1e-300) {
		return nil, fmt.Errorf("approx: %s has no probability mass in [%v, %v]", d.Name(), lo, hi)
	}
	nb := deg + 1
	m := 2*deg + 1 + nb + 1
	T := make([]float64, 2*deg+1)
	g := func(x float64, out []float64) {
		p := d.PDF(x)
		fx := f(x)
		activation.ChebyshevT(scaleTo(x, lo, hi), T)
		for k, v := range T {
			out[k] = p * v
		}
		for j := range nb {
			out[2*deg+1+j] = p * T[j] * fx
		}
		out[m-1] = p * fx * fx
	}
	_, nodes, err := adaptiveGK(g, m, distBreaks(d, lo, hi, kinks), quadTol, 1e-300, 4000)
	if err != nil || nodes == nil {
		return nil, err
	}
	rows := len(nodes)
	if ridge > 0 {
		rows += nb
	}
	A := mat.NewDense(rows, nb, nil)
	y := mat.NewDense(rows, 1, nil)
	r := 0
	for _, nd := range nodes {
		w := nd.w * d.PDF(nd.x) / mass
		if !(w > 0) {
			continue
		}
		sw := math.Sqrt(w)
		activation.ChebyshevT(scaleTo(nd.x, lo, hi), T[:nb])
		for k := range nb {
			A.Set(r, k, sw*T[k])
		}
		fx := f(nd.x)
		if math.IsNaN(fx) || math.IsInf(fx, 0) {
			return nil, fmt.Errorf("approx: target is %v at x=%v", fx, nd.x)
		}
		y.Set(r, 0, sw*fx)
		r++
	}
	if ridge > 0 {
		for k := range nb {
			A.Set(r, k, math.Sqrt(ridge))
			r++
		}
	}
	if r < nb {
		return nil, fmt.Errorf("approx: too few quadrature nodes with positive density in [%v, %v] for degree %d", lo, hi, deg)
	}
	A = A.Slice(0, r, 0, nb).(*mat.Dense)
	y = y.Slice(0, r, 0, 1).(*mat.Dense)
	cheb, err := solveQR(A, y)
	if err != nil {
		return nil, err
	}
	return &lsResult{cheb: cheb, outsideFrac: 1 - mass}, nil
}

func solveQR(A, y *mat.Dense) ([]float64, error) {
	var qr mat.QR
	qr.Factorize(A)
	_, nb := A.Dims()
	var R mat.Dense
	qr.RTo(&R)
	var rmax, rmin float64 = 0, math.Inf(1)
	for k := range nb {
		v := math.Abs(R.At(k, k))
		rmax = math.Max(rmax, v)
		rmin = math.Min(rmin, v)
	}
	if !(rmin > 1e-13*rmax) {
		return nil, fmt.Errorf("approx: least-squares system is rank-deficient (R diagonal ratio %.3g): too little calibration mass spread over the interval for degree %d", rmin/rmax, nb-1)
	}
	var c mat.Dense
	if err := qr.SolveTo(&c, false, y); err != nil {
		return nil, fmt.Errorf("approx: least-squares solve: %w", err)
	}
	out := make([]float64, nb)
	for k := range nb {
		out[k] = c.At(k, 0)
	}
	return out, nil
}

// momentStats are the streaming sufficient statistics of a sample fit.
type momentStats struct {
	mom []float64 // Σ T_m(t_i), m = 0..2·deg
	rhs []float64 // Σ T_j(t_i)·f(x_i), j = 0..deg
	nIn int
}

func (s *momentStats) add(o *momentStats) {
	for i := range s.mom {
		s.mom[i] += o.mom[i]
	}
	for i := range s.rhs {
		s.rhs[i] += o.rhs[i]
	}
	s.nIn += o.nIn
}

// accumulate streams over x once. Sums are blocked (partial sums of 256
// values added into the totals) so rounding grows with n/256 + 256 rather
// than n.
func accumulate(f Target, x []float64, deg int, lo, hi float64) *momentStats {
	nm, nb := 2*deg+1, deg+1
	tot := &momentStats{mom: make([]float64, nm), rhs: make([]float64, nb)}
	blk := &momentStats{mom: make([]float64, nm), rhs: make([]float64, nb)}
	T := make([]float64, nm)
	c, s := (lo+hi)/2, 2/(hi-lo)
	for start := 0; start < len(x); start += 256 {
		end := min(start+256, len(x))
		if deg == 2 {
			// The common case, unrolled: T0=1, T1=t, T2=2t²−1, T3, T4.
			var m1, m2, m3, m4, r0, r1, r2 float64
			n := 0
			for _, v := range x[start:end] {
				if v < lo || v > hi {
					continue
				}
				t := (v - c) * s
				t2 := 2*t*t - 1
				t3 := 2*t*t2 - t
				t4 := 2*t*t3 - t2
				fv := f(v)
				n++
				m1 += t
				m2 += t2
				m3 += t3
				m4 += t4
				r0 += fv
				r1 += t * fv
				r2 += t2 * fv
			}
			tot.mom[0] += float64(n)
			tot.mom[1] += m1
			tot.mom[2] += m2
			tot.mom[3] += m3
			tot.mom[4] += m4
			tot.rhs[0] += r0
			tot.rhs[1] += r1
			tot.rhs[2] += r2
			tot.nIn += n
			continue
		}
		for i := range blk.mom {
			blk.mom[i] = 0
		}
		for i := range blk.rhs {
			blk.rhs[i] = 0
		}
		blk.nIn = 0
		for _, v := range x[start:end] {
			if v < lo || v > hi {
				continue
			}
			activation.ChebyshevT((v-c)*s, T)
			fv := f(v)
			for k := range nm {
				blk.mom[k] += T[k]
			}
			for j := range nb {
				blk.rhs[j] += T[j] * fv
			}
			blk.nIn++
		}
		tot.add(blk)
	}
	return tot
}

// fitWorkers is how many goroutines a sample fit uses.
var fitWorkers = min(2, runtime.GOMAXPROCS(0))

func fitLSSample(f Target, smp *Sample, deg int, lo, hi, ridge float64) (*lsResult, error) {
	if err := smp.Validate(); err != nil {
		return nil, err
	}
	x := smp.X
	parts := fitWorkers
	if len(x) < 1<<16 {
		parts = 1
	}
	res := make([]*momentStats, parts)
	var wg sync.WaitGroup
	for p := range parts {
		a, b := p*len(x)/parts, (p+1)*len(x)/parts
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[p] = accumulate(f, x[a:b], deg, lo, hi)
		}()
	}
	wg.Wait()
	st := res[0]
	for _, r := range res[1:] {
		st.add(r)
	}
	for j, v := range st.rhs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("approx: target produced %v in moment %d", v, j)
		}
	}
	if st.nIn <= deg {
		return nil, fmt.Errorf("approx: only %d of %d calibration values lie in [%v, %v]; degree %d needs at least %d", st.nIn, len(x), lo, hi, deg, deg+1)
	}
	nb := deg + 1
	n := float64(st.nIn)
	G := mat.NewSymDense(nb, nil)
	b := mat.NewVecDense(nb, nil)
	for j := range nb {
		for k := j; k < nb; k++ {
			// T_j·T_k = (T_{j+k} + T_{|j−k|})/2
			G.SetSym(j, k, (st.mom[j+k]+st.mom[k-j])/(2*n))
		}
		G.SetSym(j, j, G.At(j, j)+ridge)
		b.SetVec(j, st.rhs[j]/n)
	}
	var ch mat.Cholesky
	if ok := ch.Factorize(G); !ok || ch.Cond() > 1e13 {
		cond := math.Inf(1)
		if ok {
			cond = ch.Cond()
		}
		return nil, fmt.Errorf("approx: normal equations are ill-conditioned (condition number %.3g; %d values in [%v, %v], degree %d): the calibration values fill too little of the interval for this degree (or are too few distinct); use a narrower interval such as q0.999, a lower degree, or method ridge", cond, st.nIn, lo, hi, deg)
	}
	var c mat.VecDense
	if err := ch.SolveVecTo(&c, b); err != nil {
		return nil, fmt.Errorf("approx: solving normal equations: %w", err)
	}
	cheb := make([]float64, nb)
	for k := range nb {
		cheb[k] = c.AtVec(k)
	}
	return &lsResult{cheb: cheb, n: len(x), nIn: st.nIn, outsideFrac: float64(len(x)-st.nIn) / float64(len(x))}, nil
}
