package approx

import (
	"math"
	"testing"
)

func TestMinimaxReLUClosedForm(t *testing.T) {
	for _, a := range []float64{0.5, 1, 4, 10} {
		p, e, err := Minimax(ReLU, 2, -a, a)
		if err != nil {
			t.Fatal(err)
		}
		checkPoly(t, "minimax", p, []float64{a / 16, 0.5, 1 / (2 * a)}, 1e-7*math.Max(1, a))
		if !near(e, a/16, 1e-9*a) {
			t.Errorf("a=%v: max error %.12g, want %.12g", a, e, a/16)
		}
	}
}

// The Remez output equioscillates: deg+2 alternating points of equal
// |error| (to 1e-9 relative), and no larger error anywhere on a dense grid.
func TestRemezEquioscillation(t *testing.T) {
	cases := []struct {
		name   string
		f      Target
		deg    int
		lo, hi float64
	}{
		{"relu 2", ReLU, 2, -3, 5},
		{"relu 4", ReLU, 4, -4, 4},
		{"relu 7", ReLU, 7, -4, 4},
		{"relu 20", ReLU, 20, -1, 1},
		{"gelu 5", GELU, 5, -6, 3},
		{"silu 8", SiLU, 8, -8, 8},
		{"exp 6", math.Exp, 6, -1, 2},
	}
	for _, c := range cases {
		r, err := Remez(c.f, c.deg, c.lo, c.hi)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if len(r.Ref) != c.deg+2 {
			t.Errorf("%s: %d reference points, want %d", c.name, len(r.Ref), c.deg+2)
			continue
		}
		for i, e := range r.RefErr {
			if !near(math.Abs(e), r.MaxErr, 1e-9*r.MaxErr) {
				t.Errorf("%s: |e(x_%d)| = %.15g, max %.15g", c.name, i, math.Abs(e), r.MaxErr)
			}
			if i > 0 && math.Signbit(e) == math.Signbit(r.RefErr[i-1]) {
				t.Errorf("%s: errors at x_%d and x_%d have the same sign", c.name, i-1, i)
			}
		}
		var worst float64
		for i := 0; i <= 100000; i++ {
			x := c.lo + (c.hi-c.lo)*float64(i)/100000
			worst = math.Max(worst, math.Abs(r.Poly.Eval(x)-c.f(x)))
		}
		if worst > r.MaxErr*(1+1e-9) {
			t.Errorf("%s: grid error %.15g exceeds levelled error %.15g", c.name, worst, r.MaxErr)
		}
	}
}

func TestMinimaxBadInput(t *testing.T) {
	if _, _, err := Minimax(ReLU, 0, -1, 1); err == nil {
		t.Error("degree 0 accepted")
	}
	if _, _, err := Minimax(ReLU, 2, 1, 1); err == nil {
		t.Error("empty interval accepted")
	}
	if _, _, err := Minimax(nil, 2, -1, 1); err == nil {
		t.Error("nil target accepted")
	}
}

func BenchmarkMinimaxReLU7(b *testing.B) {
	for range b.N {
		if _, _, err := Minimax(ReLU, 7, -4, 4); err != nil {
			b.Fatal(err)
		}
	}
}
