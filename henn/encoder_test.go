package henn

import (
	"math"
	"testing"

	"github.com/krelu/krelu/approx"
)

func eye(n int, s float64) Dense {
	w := make([][]float64, n)
	for i := range w {
		w[i] = make([]float64, n)
		w[i][i] = s
	}
	return Dense{W: w}
}

// With Q = 0 every score is 0, so 2Quad with the fixed normaliser n·c² is
// the uniform average: with V = O = Norm = I and FFNOut = 0 each token
// becomes x_i + mean(x), and the pooled vector 2·mean(x).
func TestEncoderForwardUniformAttention(t *testing.T) {
	const d = 4
	e := &Encoder{Dim: d, Heads: 2, MaxTokens: 8, QuadShift: 3,
		Layers: []EncoderLayer{{Q: eye(d, 0), K: eye(d, 1), V: eye(d, 1), O: eye(d, 1), Norm: eye(d, 1),
			FFNIn: eye(d, 1), Act: Poly{Coeffs: approx.Poly{0.1, 0.5, 0.2}}, FFNOut: eye(d, 0)}},
		Classifier: eye(d, 1)}
	x := [][]float64{{1, 2, 3, 4}, {-1, 0, 5, 2}, {0.5, 0.5, -2, 1}}
	got, err := e.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	for f := range d {
		want := 2 * (x[0][f] + x[1][f] + x[2][f]) / 3
		if math.Abs(got[f]-want) > 1e-12 {
			t.Errorf("logit %d = %v, want %v", f, got[f], want)
		}
	}
	if _, err := e.Forward(nil); err == nil {
		t.Error("empty sentence accepted")
	}
	if _, err := e.Forward(make([][]float64, 9)); err == nil {
		t.Error("sentence longer than MaxTokens accepted")
	}
}

// One head, one token pair: the weight is (q·k + c)²/(n·c²) by hand.
func TestEncoderForwardQuadWeight(t *testing.T) {
	e := &Encoder{Dim: 1, Heads: 1, MaxTokens: 2, QuadShift: 2,
		Layers: []EncoderLayer{{Q: eye(1, 1), K: eye(1, 1), V: eye(1, 1), O: eye(1, 1), Norm: eye(1, 1),
			FFNIn: eye(1, 1), Act: Poly{Coeffs: approx.Poly{0, 0, 1}}, FFNOut: eye(1, 1)}},
		Classifier: eye(1, 1)}
	x := [][]float64{{1}, {3}}
	a := func(s float64) float64 { return (s + 2) * (s + 2) / 8 }
	var ys float64
	for i := range 2 {
		o := a(x[i][0]*1)*1 + a(x[i][0]*3)*3
		z := x[i][0] + o
		ys += z + z*z
	}
	got, err := e.Forward(x)
	if err != nil {
		t.Fatal(err)
	}
	if want := ys / 2; math.Abs(got[0]-want) > 1e-9*math.Abs(want) {
		t.Fatalf("logit %v, want %v", got[0], want)
	}
}
