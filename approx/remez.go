package approx

import (
	"errors"
	"fmt"
	"math"

	"github.com/krelu/krelu/activation"
	"gonum.org/v1/gonum/mat"
)

// RemezResult is a best uniform approximation found by the Remez exchange.
type RemezResult struct {
	// Poly is the approximation in the power basis in original units.
	Poly Poly
	// Chebyshev are its coefficients in T_k(t), t = (2x−lo−hi)/(hi−lo).
	Chebyshev []float64
	// MaxErr is max |p − f| over [lo,hi] (from the final error scan).
	MaxErr float64
	// Ref are the deg+2 alternation points of the final reference and
	// RefErr the signed errors p−f there: equal in magnitude, alternating.
	Ref, RefErr []float64
	Iterations  int
}

// Minimax returns the best uniform (minimax) polynomial approximation of
// degree deg to f on [lo,hi] and its maximum error, by the Remez exchange
// algorithm (Remez 1934; see Trefethen, ATAP ch. 10, and Pachón &
// Trefethen 2009 for the multiple-exchange variant used here). For ReLU
// on [−a,a] and degree 2 the answer is a/16 + x/2 + x²/(2a), error a/16.
func Minimax(f Target, deg int, lo, hi float64) (p Poly, maxErr float64, err error) {
	r, err := Remez(f, deg, lo, hi)
	if err != nil {
		return nil, 0, err
	}
	return r.Poly, r.MaxErr, nil
}

// Remez is Minimax with the alternation set and Chebyshev coefficients.
func Remez(f Target, deg int, lo, hi float64) (*RemezResult, error) {
	return remezKinks(f, deg, lo, hi, nil)
}

func remezKinks(f Target, deg int, lo, hi float64, kinks []float64) (*RemezResult, error) {
	if err := checkFitArgs(f, deg, lo, hi); err != nil {
		return nil, err
	}
	nb := deg + 1
	basis := func(x float64, out []float64) { activation.ChebyshevT(scaleTo(x, lo, hi), out) }
	c, ref, refErr, maxErr, it, err := remezCore(basis, nb, f, lo, hi, append([]float64{0}, kinks...))
	if err != nil {
		return nil, err
	}
	return &RemezResult{
		Poly:       ChebyshevToPower(c, lo, hi),
		Chebyshev:  c,
		MaxErr:     maxErr,
		Ref:        ref,
		RefErr:     refErr,
		Iterations: it,
	}, nil
}

// remezCore computes the best approximation Σ c_k φ_k to f on [lo,hi] for
// a Haar system φ_0..φ_{nb−1}, with a reference of nb+1 points. The
// error is scanned on a grid containing the kinks (where |p−f| of a
// non-smooth f peaks) and every local extremum is refined by golden
// section search.
func remezCore(basis func(x float64, out []float64), nb int, f Target, lo, hi float64, kinks []float64) (c, ref, refErr []float64, maxErr float64, iters int, err error) {
	n := nb + 1
	ref = remezStart(lo, hi, n)
	grid := remezGrid(lo, hi, nb, kinks)
	phi := make([]float64, nb)
	eval := func(c []float64, x float64) float64 {
		basis(x, phi)
		var s float64
		for k, v := range c {
			s += v * phi[k]
		}
		return s - f(x)
	}
	sys := newRemezSystem(basis, nb, f)
	const maxIter = 100
	// Errors below tolAbs are rounding noise in evaluating p and f: a
	// smooth target can be matched to near machine precision, and then
	// equal ripple cannot be resolved.
	var scale float64
	for _, x := range grid {
		scale = math.Max(scale, math.Abs(f(x)))
	}
	tolAbs := 1e3 * 2.220446049250313e-16 * math.Max(scale, 1e-300)
	// best remembers the iterate with the smallest maximum error, which
	// is returned if the exchange stalls at rounding level.
	type iterate struct {
		c, ref, refErr []float64
		maxErr, spread float64
	}
	var best *iterate
	accept := func(it *iterate) bool {
		return it != nil && it.spread <= 1e-6*it.maxErr+tolAbs
	}
	finishBest := func(reason error) ([]float64, []float64, []float64, float64, int, error) {
		if accept(best) {
			return best.c, best.ref, best.refErr, best.maxErr, iters, nil
		}
		return nil, nil, nil, 0, iters, reason
	}
	for iters = 1; iters <= maxIter; iters++ {
		var lev float64
		var finite bool
		if c, lev, finite, err = sys.solve(ref); !finite {
			return nil, nil, nil, 0, iters, err
		} else if err != nil {
			return finishBest(err)
		}

		alt := alternatingExtrema(grid, func(x float64) float64 { return eval(c, x) })
		maxErr = 0
		for _, e := range alt {
			if math.Abs(e.e) > maxErr {
				maxErr = math.Abs(e.e)
			}
		}
		if maxErr <= tolAbs {
			// f is (numerically) in the span of the basis.
			refErr = make([]float64, n)
			for i, x := range ref {
				refErr[i] = eval(c, x)
			}
			return c, ref, refErr, maxErr, iters, nil
		}
		if len(alt) < n {
			return finishBest(fmt.Errorf("approx: Remez: only %d alternation points found for %d needed (degree too high for the interval resolution?)", len(alt), n))
		}
		newRef, newErr, minRef := nextReference(alt, n)
		if best == nil || maxErr < best.maxErr {
			refE := make([]float64, n)
			for i, x := range ref {
				refE[i] = eval(c, x)
			}
			best = &iterate{c: c, ref: ref, refErr: refE, maxErr: maxErr, spread: maxErr - math.Abs(lev)}
			for _, e := range refE {
				best.spread = math.Max(best.spread, maxErr-math.Abs(e))
			}
		}
		ref, refErr = newRef, newErr
		if maxErr-minRef <= 1e-11*maxErr+tolAbs && maxErr-lev <= 1e-10*maxErr+tolAbs {
			break
		}
	}
	if iters > maxIter {
		iters = maxIter
		return finishBest(fmt.Errorf("approx: Remez did not converge in %d iterations (best max error %.3g)", maxIter, best.maxErr))
	}
	// Final coefficients belong to the last solve; report the errors on
	// the final reference for them.
	for i, x := range ref {
		refErr[i] = eval(c, x)
	}
	return c, ref, refErr, maxErr, iters, nil
}

// remezStart is the first reference of n points: the Chebyshev extrema,
// warped slightly off symmetry: for targets with even parts
// (ReLU = x/2 + |x|/2) a symmetric start yields a degenerate first error
// curve with too few alternations.
func remezStart(lo, hi float64, n int) []float64 {
	ref := make([]float64, n)
	for i := range n {
		t := -math.Cos(math.Pi * float64(i) / float64(n-1))
		t += 0.05 * (1 - t*t)
		ref[i] = (lo+hi)/2 + (hi-lo)/2*t
	}
	return ref
}

// remezSystem is the linear system of one Remez step: on a reference of
// nb+1 points, Σ c_k φ_k(x_i) + (−1)^i·E = f(x_i).
type remezSystem struct {
	basis func(x float64, out []float64)
	nb    int
	f     Target
	phi   []float64
	A     *mat.Dense
	y     *mat.VecDense
	sol   mat.VecDense
}

func newRemezSystem(basis func(x float64, out []float64), nb int, f Target) *remezSystem {
	n := nb + 1
	return &remezSystem{basis: basis, nb: nb, f: f, phi: make([]float64, nb), A: mat.NewDense(n, n, nil), y: mat.NewVecDense(n, nil)}
}

// solve returns the coefficients and the levelled error |E| on ref.
// finite is false (with an error) when the target is not finite on ref; a
// singular or failed solve returns an error with finite true.
func (s *remezSystem) solve(ref []float64) (c []float64, lev float64, finite bool, err error) {
	for i, x := range ref {
		s.basis(x, s.phi)
		for k := range s.nb {
			s.A.Set(i, k, s.phi[k])
		}
		s.A.Set(i, s.nb, math.Pow(-1, float64(i)))
		fx := s.f(x)
		if math.IsNaN(fx) || math.IsInf(fx, 0) {
			return nil, 0, false, fmt.Errorf("approx: Remez: target is %v at x=%v", fx, x)
		}
		s.y.SetVec(i, fx)
	}
	var lu mat.LU
	lu.Factorize(s.A)
	if lu.Det() == 0 {
		return nil, 0, true, errors.New("approx: Remez: singular reference system")
	}
	if err := lu.SolveVecTo(&s.sol, false, s.y); err != nil {
		return nil, 0, true, fmt.Errorf("approx: Remez: %w", err)
	}
	c = make([]float64, s.nb)
	for k := range s.nb {
		c[k] = s.sol.AtVec(k)
	}
	return c, math.Abs(s.sol.AtVec(s.nb)), true, nil
}

// remezExt is a signed local extremum e = p(x) − f(x) of the error.
type remezExt struct{ x, e float64 }

// alternatingExtrema scans the error err on grid, refines every interior
// local extremum by golden-section search, and merges runs of equal sign
// keeping the largest |e|: the alternating extrema of the error curve.
func alternatingExtrema(grid []float64, err func(float64) float64) []remezExt {
	ev := make([]float64, len(grid))
	for i, x := range grid {
		ev[i] = err(x)
	}
	var exts []remezExt
	for i := range grid {
		l, r := i-1, i+1
		e := ev[i]
		isExt := (l < 0 || math.Abs(e) >= math.Abs(ev[l]) || math.Signbit(e) != math.Signbit(ev[l])) &&
			(r >= len(grid) || math.Abs(e) >= math.Abs(ev[r]) || math.Signbit(e) != math.Signbit(ev[r]))
		if !isExt || e == 0 {
			continue
		}
		x := grid[i]
		if l >= 0 && r < len(grid) {
			s := 1.0
			if e < 0 {
				s = -1
			}
			x = goldenMax(func(x float64) float64 { return s * err(x) }, grid[l], grid[r])
			if s*err(x) < s*e {
				x = grid[i]
			}
		}
		exts = append(exts, remezExt{x, err(x)})
	}
	var alt []remezExt
	for _, e := range exts {
		if len(alt) > 0 && math.Signbit(alt[len(alt)-1].e) == math.Signbit(e.e) {
			if math.Abs(e.e) > math.Abs(alt[len(alt)-1].e) {
				alt[len(alt)-1] = e
			}
			continue
		}
		alt = append(alt, e)
	}
	return alt
}

// nextReference picks n consecutive alternating extrema as the next
// reference. Surplus points are dropped from the ends, always the end of
// smaller |error|, which keeps alternation and the global maximum and does
// not flip between two windows the way a window centred on the maximum
// can. It also returns the errors there and the smallest of them.
func nextReference(alt []remezExt, n int) (ref, refErr []float64, minErr float64) {
	start, end := 0, len(alt)
	for end-start > n {
		if math.Abs(alt[start].e) < math.Abs(alt[end-1].e) {
			start++
		} else {
			end--
		}
	}
	ref, refErr = make([]float64, n), make([]float64, n)
	minErr = math.Inf(1)
	for i := range n {
		ref[i] = alt[start+i].x
		refErr[i] = alt[start+i].e
		minErr = math.Min(minErr, math.Abs(refErr[i]))
	}
	return ref, refErr, minErr
}

// remezGrid is a scan grid dense near the ends (Chebyshev-spaced) and
// uniformly inside, with the kinks inserted.
func remezGrid(lo, hi float64, nb int, kinks []float64) []float64 {
	m := 2000 + 200*nb
	g := make([]float64, 0, 2*m+len(kinks)+2)
	for i := 0; i <= m; i++ {
		g = append(g, lo+(hi-lo)*float64(i)/float64(m))
		g = append(g, (lo+hi)/2-(hi-lo)/2*math.Cos(math.Pi*float64(i)/float64(m)))
	}
	for _, k := range kinks {
		if k > lo && k < hi {
			g = append(g, k)
		}
	}
	out := sortUnique(g)
	out[0], out[len(out)-1] = lo, hi
	return out
}
