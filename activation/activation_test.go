package activation

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func validActivation() *Activation {
	return &Activation{
		Format:       FormatV1,
		Target:       "relu",
		Kernel:       "gaussian",
		Bandwidth:    0.5,
		Method:       "ls",
		Degree:       2,
		Interval:     [2]float64{-4, 4},
		Coefficients: []float64{0.25, 0.5, 0.125},
		Calibration:  Calibration{Source: "normal:0,1"},
	}
}

func TestActivationRoundTrip(t *testing.T) {
	a := validActivation()
	var buf bytes.Buffer
	if err := a.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	b, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{-3, -1, 0, 0.5, 2} {
		if got, want := b.Poly().Eval(x), 0.25+0.5*x+0.125*x*x; math.Abs(got-want) > 1e-15 {
			t.Errorf("p(%v) = %v, want %v", x, got, want)
		}
	}
}

func TestActivationRejects(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Activation)
		want   string
	}{
		{"version", func(a *Activation) { a.Format = "krelu.activation/v9" }, "unsupported format"},
		{"degree", func(a *Activation) { a.Degree = 0 }, "degree 0"},
		{"length", func(a *Activation) { a.Coefficients = a.Coefficients[:2] }, "2 coefficients for degree 2"},
		{"nan", func(a *Activation) { a.Coefficients[1] = math.NaN() }, "coefficient 1 is NaN"},
		{"interval", func(a *Activation) { a.Interval = [2]float64{4, -4} }, "invalid interval"},
		{"bandwidth", func(a *Activation) { a.Bandwidth = 0 }, "positive bandwidth"},
		{"target", func(a *Activation) { a.Target = "" }, "missing target"},
	}
	for _, c := range cases {
		a := validActivation()
		c.mutate(a)
		err := a.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", c.name, err, c.want)
		}
	}
	if _, err := Read(strings.NewReader(`{"format":"krelu.activation/v1","bogus":1}`)); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown field: got %v", err)
	}
	if _, err := Read(strings.NewReader(`{"format":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestPolyDerivAndDepth(t *testing.T) {
	p := Poly{1, -2, 3, 0.5}
	const h = 1e-6
	for _, x := range []float64{-2, 0, 1.5} {
		fd := (p.Eval(x+h) - p.Eval(x-h)) / (2 * h)
		if math.Abs(fd-p.Deriv(x)) > 1e-6 {
			t.Errorf("p'(%v) = %v, finite difference %v", x, p.Deriv(x), fd)
		}
	}
	if d := (Poly{1, 2, 0, 0}).Degree(); d != 1 {
		t.Errorf("Degree ignores trailing zeros: got %d", d)
	}
	for d, want := range map[int]int{1: 1, 2: 2, 3: 2, 4: 3, 7: 3, 8: 4, 15: 4} {
		if got := GenericDepth(d); got != want {
			t.Errorf("GenericDepth(%d) = %d, want %d", d, got, want)
		}
	}
	if got := Depth(2); got != 1 {
		t.Errorf("Depth(2) = %d, want 1", got)
	}
}
