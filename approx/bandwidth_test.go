package approx

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func normalSample(n int, seed uint64) Sample {
	rng := rand.New(rand.NewPCG(seed, 2605))
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return Sample{Label: "normal draws", X: x}
}

func TestParseCriterion(t *testing.T) {
	for in, w := range map[string]float64{"rmse": 1, "MAX": 0, "mix:0.25": 0.25, "mix:1": 1, " mix:0 ": 0} {
		c, err := ParseCriterion(in)
		if err != nil || c.W != w {
			t.Errorf("ParseCriterion(%q) = %v, %v; want W=%g", in, c, err, w)
			continue
		}
		back, err := ParseCriterion(c.String())
		if err != nil || back != c {
			t.Errorf("round trip of %q via %q gives %v, %v", in, c.String(), back, err)
		}
	}
	for _, in := range []string{"", "l2", "mix:", "mix:1.5", "mix:-0.1", "mix:NaN", "mix:x"} {
		if _, err := ParseCriterion(in); err == nil {
			t.Errorf("ParseCriterion(%q): no error", in)
		}
	}
	if got := (Criterion{W: 0.5}).Score(1, 3); math.Abs(got-2) > 1e-15 {
		t.Errorf("mix:0.5 score of (1, 3) = %g, want 2", got)
	}
}

func TestSelectBandwidth(t *testing.T) {
	s := normalSample(6000, 1)
	const lo, hi = -4.0, 4.0
	k := GaussianKernel{}
	direct, err := CrossValidate(k, s, 2, lo, hi, 5, 0, CriterionMax)
	if err != nil {
		t.Fatal(err)
	}
	hMax, tried, err := SelectBandwidthCV(k, s, 2, lo, hi, 5, CriterionMax)
	if err != nil {
		t.Fatal(err)
	}
	atMax, err := CrossValidate(k, s, 2, lo, hi, 5, hMax, CriterionMax)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("max criterion: h=%.4g cv max=%.4f rmse=%.4f (direct: max=%.4f rmse=%.4f), %d bandwidths tried",
		hMax, atMax.MaxErr, atMax.RMSE, direct.MaxErr, direct.RMSE, len(tried))
	if !(atMax.MaxErr < 0.75*direct.MaxErr) {
		t.Errorf("max criterion: h=%g has CV max error %g, direct fit %g", hMax, atMax.MaxErr, direct.MaxErr)
	}
	for _, r := range tried {
		if r.Score < atMax.Score-1e-12 {
			t.Errorf("h=%g scored %g, better than the chosen h=%g (%g)", r.H, r.Score, hMax, atMax.Score)
		}
	}

	hRMSE, err := SelectBandwidth(k, s, 2, lo, hi, 5, CriterionRMSE)
	if err != nil {
		t.Fatal(err)
	}
	atRMSE, err := CrossValidate(k, s, 2, lo, hi, 5, hRMSE, CriterionRMSE)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rmse criterion: h=%.4g cv rmse=%.5f (direct %.5f)", hRMSE, atRMSE.RMSE, direct.RMSE)
	// Smoothing cannot buy held-out RMSE against ReLU beyond sampling noise.
	if hRMSE > 0.2 || atRMSE.RMSE > direct.RMSE*1.001 {
		t.Errorf("rmse criterion chose h=%g with CV RMSE %g (direct %g)", hRMSE, atRMSE.RMSE, direct.RMSE)
	}

	hMix, err := SelectBandwidth(k, s, 2, lo, hi, 5, Criterion{W: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if !(hMix > hRMSE && hMix <= hMax*1.01) {
		t.Errorf("mix:0.5 chose h=%g, outside (rmse h=%g, max h=%g]", hMix, hRMSE, hMax)
	}
}

func TestSelectBandwidthBadInput(t *testing.T) {
	good := normalSample(200, 2)
	cases := []struct {
		name   string
		k      Kernel
		s      Sample
		deg    int
		lo, hi float64
		folds  int
		crit   Criterion
		want   string
	}{
		{"nil kernel", nil, good, 2, -3, 3, 5, CriterionRMSE, "kernel"},
		{"empty", GaussianKernel{}, Sample{Label: "empty"}, 2, -3, 3, 5, CriterionRMSE, "needs at least"},
		{"NaN", GaussianKernel{}, Sample{Label: "bad", X: []float64{1, math.NaN(), 2}}, 2, -3, 3, 5, CriterionRMSE, "NaN"},
		{"Inf", GaussianKernel{}, Sample{Label: "bad", X: []float64{1, math.Inf(1)}}, 2, -3, 3, 5, CriterionRMSE, "Inf"},
		{"constant", GaussianKernel{}, Sample{Label: "c", X: make([]float64, 100)}, 2, -3, 3, 5, CriterionRMSE, "spread"},
		{"degree 0", GaussianKernel{}, good, 0, -3, 3, 5, CriterionRMSE, "degree"},
		{"degree 31", GaussianKernel{}, good, 31, -3, 3, 5, CriterionRMSE, "degree"},
		{"inverted", GaussianKernel{}, good, 2, 3, -3, 5, CriterionRMSE, "interval"},
		{"NaN interval", GaussianKernel{}, good, 2, math.NaN(), 3, 5, CriterionRMSE, "interval"},
		{"one fold", GaussianKernel{}, good, 2, -3, 3, 1, CriterionRMSE, "folds"},
		{"bad weight", GaussianKernel{}, good, 2, -3, 3, 5, Criterion{W: 2}, "weight"},
	}
	for _, c := range cases {
		_, err := SelectBandwidth(c.k, c.s, c.deg, c.lo, c.hi, c.folds, c.crit)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := CrossValidate(GaussianKernel{}, good, 2, -3, 3, 5, -1, CriterionRMSE); err == nil {
		t.Error("CrossValidate with h=-1: no error")
	}
}

func TestLogSpace(t *testing.T) {
	g := LogSpace(0.01, 100, 5)
	want := []float64{0.01, 0.1, 1, 10, 100}
	for i := range want {
		if !kernelClose(g[i], want[i], 1e-14) {
			t.Errorf("LogSpace[%d] = %g, want %g", i, g[i], want[i])
		}
	}
	if LogSpace(0, 1, 3) != nil || LogSpace(1, 2, 0) != nil {
		t.Error("LogSpace accepts a non-positive end or count")
	}
}

func TestSelectBandwidthLargeSampleSubsampled(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 10^6 values")
	}
	big := normalSample(1_000_000, 7)
	cv, err := newBandwidthCV(GaussianKernel{}, big, 2, -4, 4, 5, CriterionMax)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for f := range cv.test {
		n += len(cv.test[f].X)
		if len(cv.train[f].X)+len(cv.test[f].X) > maxCVSample {
			t.Errorf("fold %d uses %d values, cap %d", f, len(cv.train[f].X)+len(cv.test[f].X), maxCVSample)
		}
	}
	// Every stride-th value is held out once (a few fall outside [−4, 4]).
	stride := (len(big.X) + maxCVSample - 1) / maxCVSample
	if want := len(big.X) / stride; n < want*99/100 {
		t.Errorf("held-out values total %d, want ≈ %d", n, want)
	}
}
