package logits

import (
	"fmt"
	"math"
	"testing"
)

func TestArgmaxFirstOnTies(t *testing.T) {
	for _, c := range []struct {
		v    []float64
		want int
	}{
		{[]float64{1, 3, 3, 2}, 1},
		{[]float64{-5}, 0},
		{nil, 0},
		{[]float64{math.Inf(-1), -1e300}, 1},
	} {
		if got := Argmax(c.v); got != c.want {
			t.Errorf("Argmax(%v) = %d, want %d", c.v, got, c.want)
		}
	}
}

// Softmax of (0, log 2, log 3) is (1, 2, 3)/6, and adding 1000 to every
// logit (which overflows a naive exp) changes nothing.
func TestSoftmaxClosedForm(t *testing.T) {
	for _, shift := range []float64{0, 1000} {
		v := []float64{shift, shift + math.Log(2), shift + math.Log(3)}
		Softmax(v)
		for i, want := range []float64{1.0 / 6, 2.0 / 6, 3.0 / 6} {
			// 1000+log 2 is rounded to the ulp of 1000 (1e-13).
			if math.Abs(v[i]-want) > 1e-12 {
				t.Errorf("shift %v: p[%d] = %v, want %v", shift, i, v[i], want)
			}
		}
	}
}

func ExampleArgmax() {
	v := []float64{0.5, 2, -1}
	k := Argmax(v)
	Softmax(v)
	fmt.Printf("class %d, p = %.3f\n", k, v[k])
	// Output: class 1, p = 0.786
}
