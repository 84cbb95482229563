package approx

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/npy"
)

func TestParseSourceDistributions(t *testing.T) {
	cases := map[string]Source{
		"normal":                      Normal{0, 1},
		"normal:1,2":                  Normal{1, 2},
		"uniform:-4,4":                Uniform{-4, 4},
		"laplace:2":                   Laplace{0, 2},
		"laplace:2,1":                 Laplace{1, 2},
		"t:3":                         StudentT{3, 0, 1},
		"t:3,0.5,2":                   StudentT{3, 0.5, 2},
		"mix:0.3@normal:-2,1+0.7@t:4": nil,
	}
	for spec, want := range cases {
		got, err := ParseSource(spec)
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if want != nil && got != want {
			t.Errorf("%s: got %#v, want %#v", spec, got, want)
		}
		// Name round-trips.
		again, err := ParseSource(got.Name())
		if err != nil || again.Name() != got.Name() {
			t.Errorf("%s: Name %q does not round-trip (%v)", spec, got.Name(), err)
		}
	}
	for _, bad := range []string{"", "normal:1", "normal:0,0", "uniform:1,1", "laplace:-1", "t:0", "t:1,2", "mix:", "mix:2@cauchy", "normal:x,1"} {
		if _, err := ParseSource(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDistributionsConsistent(t *testing.T) {
	mix, err := NewMixture([]float64{1, 3}, []Dist{Normal{-2, 1}, Laplace{1, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []Dist{Normal{0.5, 2}, Uniform{-1, 3}, Laplace{0, 1.5}, StudentT{3, 0, 1}, StudentT{2.5, 1, 0.5}, mix} {
		// Quantile inverts CDF and the density integrates to the CDF.
		for _, p := range []float64{0.01, 0.3, 0.5, 0.9, 0.999} {
			x := d.Quantile(p)
			if !near(d.CDF(x), p, 1e-9) {
				t.Errorf("%s: CDF(Quantile(%v)) = %v", d.Name(), p, d.CDF(x))
			}
		}
		a, b := d.Quantile(0.05), d.Quantile(0.95)
		v, _, err := adaptiveGK(func(x float64, out []float64) { out[0] = d.PDF(x) }, 1, distBreaks(d, a, b, nil), 1e-12, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if !near(v[0], 0.9, 1e-9) {
			t.Errorf("%s: ∫pdf over the 5–95%% range = %.12f", d.Name(), v[0])
		}
	}
}

func TestDrawMatchesDistribution(t *testing.T) {
	for _, d := range []Dist{Normal{1, 2}, Uniform{-1, 3}, Laplace{0, 1.5}, StudentT{5, 0, 1}} {
		x := Draw(d, 200000, 7)
		var below int
		q := d.Quantile(0.3)
		for _, v := range x {
			if v < q {
				below++
			}
		}
		if f := float64(below) / float64(len(x)); !near(f, 0.3, 0.005) {
			t.Errorf("%s: %.4f of draws below the 30%% quantile", d.Name(), f)
		}
	}
}

func TestLoadSampleFiles(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "v.txt")
	os.WriteFile(txt, []byte("# header\n1 2\n\n3e-1 # trailing\n-4\n"), 0o644)
	s, err := LoadSample(txt)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.X) != 4 || s.X[2] != 0.3 || s.Name() != txt {
		t.Errorf("text sample %v %q", s.X, s.Name())
	}
	f32 := filepath.Join(dir, "v.npy")
	f, _ := os.Create(f32)
	npy.WriteFloat32(f, []float32{1, -2, 0.5, 4}, []int{2, 2})
	f.Close()
	src, err := ParseSource(f32)
	if err != nil {
		t.Fatal(err)
	}
	if s := src.(*Sample); len(s.X) != 4 || s.X[1] != -2 {
		t.Errorf(".npy sample %v", s.X)
	}
	for name, body := range map[string]string{"nan.txt": "1\nnan\n", "inf.txt": "-Inf\n", "empty.txt": "# none\n", "word.txt": "1\nx\n"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := ParseSource(p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := ParseSource(filepath.Join(dir, "missing.txt")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	nanNpy := filepath.Join(dir, "nan.npy")
	npy.WriteFile(nanNpy, []float64{1, math.NaN()}, nil)
	if _, err := ParseSource(nanNpy); err == nil {
		t.Error("NaN in .npy accepted")
	}
}

func TestChooseInterval(t *testing.T) {
	s := &Sample{Label: "s", X: []float64{-3, -1, 0, 1, 2, 5}}
	cases := []struct {
		rule         string
		lo, hi, frac float64
	}{
		{"auto", -5, 5, 0},
		{"maxabs", -5, 5, 0},
		{"range", -3, 5, 0},
		{"q0.5", -1, 1, 0.5},
	}
	for _, c := range cases {
		lo, hi, frac, err := ChooseInterval(s, c.rule)
		if err != nil || lo != c.lo || hi != c.hi || !near(frac, c.frac, 1e-15) {
			t.Errorf("%s: [%v, %v] outside %v, %v; want [%v, %v] %v", c.rule, lo, hi, frac, err, c.lo, c.hi, c.frac)
		}
	}
	lo, hi, frac, err := ChooseInterval(Normal{0, 1}, "q0.999")
	if err != nil || !near(hi, 3.290526731, 1e-8) || lo != -hi || !near(frac, 0.001, 1e-12) {
		t.Errorf("normal q0.999: [%v, %v] %v %v", lo, hi, frac, err)
	}
	lo, hi, _, err = ChooseInterval(Uniform{-2, 3}, "auto")
	if err != nil || lo != -3 || hi != 3 {
		t.Errorf("uniform auto: [%v, %v] %v", lo, hi, err)
	}
	for _, rule := range []string{"maxabs", "range", "q1.5", "q0", "median"} {
		if _, _, _, err := ChooseInterval(Normal{0, 1}, rule); err == nil {
			t.Errorf("normal %s accepted", rule)
		}
	}
	if _, _, _, err := ChooseInterval(&Sample{Label: "z", X: []float64{0, 0}}, "auto"); err == nil {
		t.Error("degenerate interval accepted")
	}
	lo, hi, frac, err = ResolveInterval("-1, 2", s)
	if err != nil || lo != -1 || hi != 2 || !near(frac, 2.0/6, 1e-15) {
		t.Errorf("ResolveInterval: [%v, %v] %v %v", lo, hi, frac, err)
	}
	for _, bad := range []string{"2,-1", "a,b", "1,1"} {
		if _, _, _, err := ResolveInterval(bad, s); err == nil {
			t.Errorf("interval %q accepted", bad)
		}
	}
}
