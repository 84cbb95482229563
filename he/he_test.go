package he

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/krelu/krelu/approx"
)

// fixture shares one key pair per preset across tests: key generation
// dominates test time.
type fixture struct {
	plan  *Plan
	owner *KeyOwner
	keys  *EvaluationKeys
}

var (
	fixMu sync.Mutex
	fixes = map[string]*fixture{}
)

func getFixture(t testing.TB, logN, depth int) *fixture {
	t.Helper()
	fixMu.Lock()
	defer fixMu.Unlock()
	plan, err := NewPlan(depth, 0, logN)
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := fixes[plan.Preset.Name]; ok {
		return f
	}
	owner, err := NewKeyOwner(plan.Params)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := owner.EvaluationKeys()
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{plan: plan, owner: owner, keys: keys}
	fixes[plan.Preset.Name] = f
	return f
}

func testValues(n int, lo, hi float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float64()
	}
	return v
}

func TestEvalQuadraticOneLevel(t *testing.T) {
	logNs := []int{13, 14}
	if testing.Short() {
		// The same assertions at the smallest ring: LogN 14 doubles the
		// cost (half of this package's -race time) and adds no code path.
		logNs = logNs[:1]
	}
	for _, logN := range logNs {
		f := getFixture(t, logN, 1)
		params := f.plan.Params
		eval := f.keys.NewEvaluator()
		xs := testValues(params.MaxSlots(), -4, 4, 1)
		for _, tc := range []struct {
			name string
			p    approx.Poly
			fold bool
		}{
			{"he-friendly", approx.Poly{0.199471, 0.5, 0.199471}, false},
			{"negative-c2", approx.Poly{0.3, -0.7, -0.25}, false},
			{"folded", approx.Poly{0.563059, 0.5, 0.078047}, true},
			{"no-linear", approx.Poly{1, 0, 0.125}, false},
		} {
			for _, level := range []int{1, params.MaxLevel()} {
				ct, err := f.owner.Encrypt(xs, level)
				if err != nil {
					t.Fatal(err)
				}
				out, factor, err := EvalQuadratic(eval, ct, tc.p, QuadOptions{FoldLeading: tc.fold})
				if err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if got := level - out.Level(); got != 1 {
					t.Errorf("LogN %d %s level %d: consumed %d levels, want 1", logN, tc.name, level, got)
				}
				want := make([]float64, len(xs))
				for i, x := range xs {
					want[i] = tc.p.Eval(x) / factor
				}
				st, err := f.owner.Precision(want, out)
				if err != nil {
					t.Fatal(err)
				}
				if prec := st.AVGLog2Prec.Real; prec < 20 {
					t.Errorf("LogN %d %s level %d: mean precision %.1f bits < 20", logN, tc.name, level, prec)
				}
				if prec := st.MINLog2Prec.Real; prec < 16 {
					t.Errorf("LogN %d %s level %d: min precision %.1f bits", logN, tc.name, level, prec)
				}
				t.Logf("LogN %d %s level %d: avg %.1f min %.1f bits, factor %g, out scale 2^%.2f", logN, tc.name, level,
					st.AVGLog2Prec.Real, st.MINLog2Prec.Real, factor, out.Scale.Log2())
			}
		}
	}
}

func TestEvalPolynomialGeneric(t *testing.T) {
	f := getFixture(t, 13, 3)
	params := f.plan.Params
	eval := f.keys.NewEvaluator()
	xs := testValues(params.MaxSlots(), -4, 4, 2)
	p := approx.Poly{0.199471, 0.5, 0.199471}
	ct, err := f.owner.Encrypt(xs, 2)
	if err != nil {
		t.Fatal(err)
	}
	out, err := EvalPolynomial(eval, ct, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := 2 - out.Level(); got != 2 {
		t.Errorf("generic evaluator consumed %d levels, want 2", got)
	}
	want := make([]float64, len(xs))
	for i, x := range xs {
		want[i] = p.Eval(x)
	}
	st, _ := f.owner.Precision(want, out)
	if st.AVGLog2Prec.Real < 20 {
		t.Errorf("precision %.1f bits", st.AVGLog2Prec.Real)
	}
	if math.Abs(out.Scale.Log2()-ct.Scale.Log2()) > 1e-6 {
		t.Errorf("output scale 2^%.3f, want 2^%.3f", out.Scale.Log2(), ct.Scale.Log2())
	}
}
