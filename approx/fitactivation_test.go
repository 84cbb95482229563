package approx

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestFitActivationJSON(t *testing.T) {
	a, err := FitActivation(FitOptions{Kernel: "gaussian", Bandwidth: 0.5, Calibration: Normal{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := a.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := ReadActivation(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b.Target != "relu" || b.Kernel != "gaussian" || b.Bandwidth != 0.5 || b.Method != "ls" || b.Degree != 2 {
		t.Errorf("fields: %+v", b)
	}
	// Chebyshev and power coefficients describe the same polynomial.
	q := ChebyshevToPower(b.Chebyshev, b.Interval[0], b.Interval[1])
	checkPoly(t, "cheb vs power", q, b.Coefficients, 1e-12)
	if b.Metrics == nil || b.Metrics.RMSE <= 0 || b.Calibration.Source != "normal:0,1" || !near(b.Calibration.OutsideFrac, 1e-4, 1e-12) {
		t.Errorf("metrics/calibration: %+v %+v", b.Metrics, b.Calibration)
	}
	// The kernel fit is the LS fit to the smoothed target.
	k, _ := KernelByName("gaussian")
	fh, _ := NewSmoothedReLU(k, 0.5)
	p, err := FitLS(fh, Normal{0, 1}, 2, a.Interval[0], a.Interval[1], 0)
	if err != nil {
		t.Fatal(err)
	}
	checkPoly(t, "kernel LS", a.Poly(), p, 1e-12)
}

// As h → 0 the kernel fit tends to the direct fit, for every kernel.
func TestFitActivationSmallBandwidth(t *testing.T) {
	x := Draw(Normal{0, 1}, 50000, 3)
	s := &Sample{Label: "draws", X: x}
	direct, err := FitActivation(FitOptions{Kernel: "none", Calibration: s})
	if err != nil {
		t.Fatal(err)
	}
	for _, kn := range KernelNames() {
		prev := math.Inf(1)
		for _, h := range []float64{0.3, 0.03, 0.003, 1e-5} {
			a, err := FitActivation(FitOptions{Kernel: kn, Bandwidth: h, Calibration: s})
			if err != nil {
				t.Fatal(err)
			}
			var d float64
			for i := range a.Coefficients {
				d = math.Max(d, math.Abs(a.Coefficients[i]-direct.Coefficients[i]))
			}
			if !(d < prev) {
				t.Errorf("%s h=%v: distance %.3g to the direct fit did not shrink (was %.3g)", kn, h, d, prev)
			}
			prev = d
		}
		if prev > 1e-5 {
			t.Errorf("%s: at h=1e-5 the fit is %.3g from the direct fit", kn, prev)
		}
	}
}

func TestFitActivationMethods(t *testing.T) {
	for _, m := range []string{MethodLS, MethodRidge, MethodMinimax, MethodChebyshev} {
		for _, deg := range []int{1, 2, 5} {
			a, err := FitActivation(FitOptions{Kernel: "logistic", Bandwidth: 0.2, Method: m, Degree: deg, Interval: "-3,3", Calibration: Laplace{0, 1}})
			if err != nil {
				t.Fatalf("%s deg %d: %v", m, deg, err)
			}
			if len(a.Coefficients) != deg+1 || a.Metrics.Depth != Depth(a.Poly().Degree()) {
				t.Errorf("%s deg %d: %d coefficients, depth %d", m, deg, len(a.Coefficients), a.Metrics.Depth)
			}
		}
	}
	// Minimax with kernel none reproduces the closed form.
	a, err := FitActivation(FitOptions{Kernel: "none", Method: MethodMinimax, Interval: "-2,2", Calibration: Normal{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	checkPoly(t, "minimax", a.Poly(), MinimaxReLU2(2), 1e-7)
	// SiLU and GELU targets are smoothed by quadrature.
	for _, tg := range []string{"silu", "gelu"} {
		if _, err := FitActivation(FitOptions{Target: tg, Kernel: "gaussian", Bandwidth: 0.3, Calibration: Normal{0, 2}}); err != nil {
			t.Errorf("%s: %v", tg, err)
		}
	}
}

func TestFitActivationAutoBandwidth(t *testing.T) {
	a, err := FitActivation(FitOptions{AutoBandwidth: true, Calibration: Normal{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !(a.Bandwidth > 0) {
		t.Errorf("auto bandwidth %v", a.Bandwidth)
	}
	s := &Sample{Label: "d", X: Draw(Laplace{0, 1}, 5000, 1)}
	a, err = FitActivation(FitOptions{AutoBandwidth: true, Criterion: "max", Calibration: s})
	if err != nil {
		t.Fatal(err)
	}
	if !(a.Bandwidth > 0) || a.Calibration.N != 5000 {
		t.Errorf("auto bandwidth on samples: %v, n %d", a.Bandwidth, a.Calibration.N)
	}
}

func TestFitActivationBadInput(t *testing.T) {
	s := &Sample{Label: "s", X: []float64{-1, 0, 1, 2}}
	cases := []struct {
		opt  FitOptions
		want string
	}{
		{FitOptions{Kernel: "none"}, "no calibration"},
		{FitOptions{Kernel: "none", Calibration: &Sample{Label: "e"}}, "empty"},
		{FitOptions{Kernel: "none", Calibration: &Sample{Label: "n", X: []float64{math.NaN()}}}, "NaN"},
		{FitOptions{Kernel: "none", Degree: 31, Calibration: s}, "degree 31"},
		{FitOptions{Kernel: "none", Degree: -1, Calibration: s}, "degree -1"},
		{FitOptions{Kernel: "gaussian", Calibration: s}, "bandwidth"},
		{FitOptions{Kernel: "gaussian", Bandwidth: -1, Calibration: s}, "bandwidth"},
		{FitOptions{Kernel: "gaussian", Bandwidth: math.Inf(1), Calibration: s}, "bandwidth"},
		{FitOptions{Kernel: "cauchy", Bandwidth: 1, Calibration: s}, "kernel"},
		{FitOptions{Kernel: "none", Bandwidth: 1, Calibration: s}, "kernel none"},
		{FitOptions{Kernel: "none", Interval: "2,1", Calibration: s}, "inverted"},
		{FitOptions{Kernel: "none", Method: "spline", Calibration: s}, "unknown method"},
		{FitOptions{Kernel: "none", Target: "tanh", Calibration: s}, "unknown target"},
		{FitOptions{Kernel: "none", Ridge: 1, Calibration: s}, "method ridge"},
		{FitOptions{Target: "gelu", AutoBandwidth: true, Calibration: s}, "relu only"},
	}
	for _, c := range cases {
		_, err := FitActivation(c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to mention %q", c.opt, err, c.want)
		}
	}
}

// Bad inputs that used to fit "successfully" with wrong coefficients.
func TestFitActivationRefusesSilentlyWrongFits(t *testing.T) {
	// h far beyond the interval: the linear term came out as −282 instead of 0.5.
	_, err := FitActivation(FitOptions{Kernel: "gaussian", Bandwidth: 1e20, Calibration: Normal{0, 1}})
	if err == nil || !strings.Contains(err.Error(), "interval half-width") {
		t.Errorf("h = 1e20: err = %v", err)
	}
	// Values of ±1e200: 2/(hi−lo) squared underflows and the x² term was 0.
	s, err := NewSample("huge", []float64{-1e200, 0, 1e200, -5e199, 5e199})
	if err != nil {
		t.Fatal(err)
	}
	_, err = FitActivation(FitOptions{Kernel: "none", Calibration: s})
	if err == nil || !strings.Contains(err.Error(), "power-basis form") {
		t.Errorf("values of 1e200: err = %v", err)
	}
	// Values of ±1e308: the spread overflows; this read "zero spread".
	big := make([]float64, 40)
	for i := range big {
		big[i] = math.Copysign(1e308, float64(i%2)-0.5)
	}
	s, err = NewSample("huger", big)
	if err != nil {
		t.Fatal(err)
	}
	_, err = FitActivation(FitOptions{Kernel: "gaussian", AutoBandwidth: true, Calibration: s})
	if err == nil || !strings.Contains(err.Error(), "overflows") {
		t.Errorf("values of 1e308: err = %v", err)
	}
}

func TestCheckPowerForm(t *testing.T) {
	// Closed form: T_2(t) = 2t² − 1 on [−2, 2] is x²/2 − 1.
	cheb := []float64{0, 0, 1}
	p := ChebyshevToPower(cheb, -2, 2)
	if err := checkPowerForm(p, cheb, -2, 2); err != nil {
		t.Errorf("exact conversion rejected: %v", err)
	}
	if err := checkPowerForm(Poly{-1, 0, 0.5001}, cheb, -2, 2); err == nil {
		t.Error("a power form off by 4e-4 accepted")
	}
}
