package figures

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkImage verifies that path holds a non-trivial PNG or SVG.
func checkImage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".png":
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", path, err)
		}
		r := img.Bounds()
		if r.Dx() < 400 || r.Dy() < 300 {
			t.Errorf("%s: image only %dx%d", path, r.Dx(), r.Dy())
		}
		if n := distinctColours(img, 64); n < 8 {
			t.Errorf("%s: only %d distinct colours; the plot looks empty", path, n)
		}
	case ".svg":
		s := string(b)
		if !strings.Contains(s, "<svg") || !strings.Contains(s, "</svg>") {
			t.Fatalf("%s: not an SVG document", path)
		}
		if n := strings.Count(s, "<path"); n < 10 {
			t.Errorf("%s: only %d paths", path, n)
		}
	default:
		t.Fatalf("unexpected extension of %s", path)
	}
}

func distinctColours(img image.Image, most int) int {
	seen := map[[4]uint32]bool{}
	r := img.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y += 3 {
		for x := r.Min.X; x < r.Max.X; x += 3 {
			a, b, c, d := img.At(x, y).RGBA()
			seen[[4]uint32{a, b, c, d}] = true
			if len(seen) >= most {
				return len(seen)
			}
		}
	}
	return len(seen)
}

func relu(x float64) float64 { return math.Max(x, 0) }

func testCurves() []Curve {
	c := 1 / (2 * math.Sqrt(2*math.Pi))
	return []Curve{
		{Name: "LS under N(0,1)", F: func(x float64) float64 { return c*(1+x*x) + x/2 }},
		{Name: "minimax [-4,4]", F: func(x float64) float64 { return 0.25 + x/2 + x*x/8 }},
	}
}

func testTradeoff() []TradeoffPoint {
	return []TradeoffPoint{{H: 0, RMSE: 0.105, MaxErr: 1.40}, {H: 0.3, RMSE: 0.11, MaxErr: 1.2},
		{H: 0.7, RMSE: 0.17, MaxErr: 0.8}, {H: 1.2, RMSE: 0.26, MaxErr: 0.57}, {H: 2, RMSE: 0.4, MaxErr: 0.9}}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	for _, ext := range []string{".png", ".svg"} {
		curves := filepath.Join(dir, "curves"+ext)
		if err := CurvesAndErrors(curves, -4, 4, Curve{Name: "ReLU", F: relu}, testCurves()); err != nil {
			t.Fatal(err)
		}
		checkImage(t, curves)

		tr := filepath.Join(dir, "tradeoff"+ext)
		if err := Tradeoff(tr, testTradeoff()); err != nil {
			t.Fatal(err)
		}
		checkImage(t, tr)

		multi := filepath.Join(dir, "multi"+ext)
		if err := TradeoffCurves(multi, "two kernels", []TradeoffSeries{
			{Name: "a", Points: testTradeoff()}, {Name: "b", Points: testTradeoff()[1:]}}); err != nil {
			t.Fatal(err)
		}
		checkImage(t, multi)

		hist := filepath.Join(dir, "hist"+ext)
		x := make([]float64, 1000)
		for i := range x {
			x[i] = math.Sin(float64(i)) * float64(i%7)
		}
		if err := Histogram(hist, "calibration values", x, 40); err != nil {
			t.Fatal(err)
		}
		checkImage(t, hist)
	}
}

func TestRenderBadInput(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.png")
	ref := Curve{Name: "ReLU", F: relu}
	nan := Curve{Name: "bad", F: func(x float64) float64 { return math.Log(x) }}
	errs := map[string]error{
		"extension":   CurvesAndErrors(filepath.Join(dir, "x.gif"), -1, 1, ref, testCurves()),
		"no curves":   CurvesAndErrors(p, -1, 1, ref, nil),
		"interval":    CurvesAndErrors(p, 1, -1, ref, testCurves()),
		"NaN bound":   CurvesAndErrors(p, math.NaN(), 1, ref, testCurves()),
		"nil ref":     CurvesAndErrors(p, -1, 1, Curve{Name: "ReLU"}, testCurves()),
		"NaN curve":   CurvesAndErrors(p, -1, 1, ref, []Curve{nan}),
		"no points":   Tradeoff(p, nil),
		"NaN point":   Tradeoff(p, []TradeoffPoint{{H: 1, RMSE: math.NaN(), MaxErr: 1}}),
		"no series":   TradeoffCurves(p, "t", nil),
		"empty hist":  Histogram(p, "t", nil, 10),
		"zero bins":   Histogram(p, "t", []float64{1, 2}, 0),
		"Inf in hist": Histogram(p, "t", []float64{1, math.Inf(1)}, 10),
		"bad dir":     Histogram(filepath.Join(dir, "missing", "h.png"), "t", []float64{1, 2}, 2),
	}
	for name, err := range errs {
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "figures: ") {
			t.Errorf("%s: error %q lacks the package prefix", name, err)
		}
	}
	if _, err := os.Stat(p); err == nil {
		t.Error("a failed call left a file behind")
	}
	if !strings.Contains(errs["NaN curve"].Error(), `"bad"`) {
		t.Errorf("NaN curve error %q does not name the curve", errs["NaN curve"])
	}
}

func TestLabelledSpreads(t *testing.T) {
	var pts []TradeoffPoint
	for i := 0; i <= 30; i++ {
		h := float64(i) * 0.1
		// A curve that crowds its first points together, like a real one.
		pts = append(pts, TradeoffPoint{H: h, RMSE: 0.1 + 0.05*h*h, MaxErr: 1.4 - 0.5*h + 0.12*h*h})
	}
	got := labelled(pts)
	if len(got) > 10 {
		t.Errorf("%d labels, want at most 10", len(got))
	}
	has := map[int]bool{}
	for _, j := range got {
		has[j] = true
	}
	best := 0
	for j := range pts {
		if pts[j].MaxErr < pts[best].MaxErr {
			best = j
		}
	}
	if !has[0] || !has[best] {
		t.Errorf("labels %v miss the direct fit (0) or the best point (%d)", got, best)
	}
	if best != bestPoint(pts) {
		t.Errorf("bestPoint = %d, want %d", bestPoint(pts), best)
	}
}
