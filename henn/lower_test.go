package henn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/krelu/krelu/approx"
)

// evalStages runs the lowered stages in plaintext: it must reproduce
// Network.Forward exactly (up to rounding), which checks the folding of
// the activation scalars.
func evalStages(st []stage, x []float64) []float64 {
	for _, s := range st {
		if s.lin == nil {
			y := make([]float64, len(x))
			for i, v := range x {
				y[i] = v * v
			}
			x = y
			continue
		}
		x = Dense{W: s.lin.w, B: s.lin.b}.apply(x)
	}
	return x
}

func TestLowerDepthAndFolding(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 41))
	lin := Poly{Coeffs: approx.Poly{0.3, -2}}
	sq := Poly{Coeffs: approx.Poly{0, 0, 1}}
	cases := []struct {
		name   string
		layers []Layer
		depth  int
	}{
		{"dense-act-dense", []Layer{randDense(r, 5, 6, 1), kernelQuad, randDense(r, 3, 5, 1)}, 3},
		{"two activations", []Layer{randDense(r, 5, 6, 1), kernelQuad, randDense(r, 4, 5, 1), kernelQuad, randDense(r, 3, 4, 1)}, 5},
		{"linear activation folds", []Layer{randDense(r, 5, 6, 1), lin, randDense(r, 3, 5, 1)}, 1},
		{"consecutive dense merge", []Layer{randDense(r, 5, 6, 1), randDense(r, 4, 5, 1), kernelQuad, randDense(r, 3, 4, 1)}, 3},
		{"bare square at the end", []Layer{randDense(r, 5, 6, 1), sq}, 2},
		{"activation first", []Layer{kernelQuad, randDense(r, 3, 6, 1)}, 3},
		{"pointer layers", []Layer{&Dense{W: [][]float64{{1, 2, 3, 4, 5, 6}}}, &Poly{Coeffs: approx.Poly{1, 1, 1}}}, 3},
	}
	for _, c := range cases {
		net := Network{InputDim: 6, Layers: c.layers}
		st, _, err := lower(net)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(st) != c.depth {
			t.Errorf("%s: depth %d, want %d", c.name, len(st), c.depth)
		}
		for range 5 {
			x := make([]float64, 6)
			for i := range x {
				x[i] = r.NormFloat64()
			}
			want, _ := net.Forward(x)
			got := evalStages(st, x)
			for i := range want {
				if math.Abs(got[i]-want[i]) > 1e-9*max(1, math.Abs(want[i])) {
					t.Errorf("%s: output %d = %.12g, want %.12g", c.name, i, got[i], want[i])
				}
			}
		}
	}
}

func TestBSGSSplit(t *testing.T) {
	// 128 dense diagonals: 16 baby × 8 giant steps or 8 × 16 cost the same
	// 0.6·15+7 vs 0.6·7+15; the split must prefer the hoisted babies.
	ks := make([]int, 128)
	for i := range ks {
		ks[i] = i
	}
	n1, b, g := bsgsSplit(ks, 128)
	if n1*len(g) < 128 || len(b) != n1 {
		t.Fatalf("n1 %d, %d babies, %d giants do not cover 128 diagonals", n1, len(b), len(g))
	}
	if len(b)+len(g) > 32 {
		t.Errorf("%d+%d rotations for 128 diagonals; BSGS should need about 2·sqrt(128)", len(b), len(g))
	}
	// A single diagonal needs no rotation beyond itself.
	n1, b, g = bsgsSplit([]int{5}, 128)
	if len(b)+len(g) != 2 || (b[0] != 0 && g[0] != 0) {
		t.Errorf("one diagonal: n1 %d babies %v giants %v, want one of them to be 0", n1, b, g)
	}
}

func TestOutputLevelIsZero(t *testing.T) {
	net := smallMLP(43, 16, 8, 4)
	for _, mode := range []Mode{Packed, Slots} {
		m, err := Compile(net, Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		c, s := parties(t, m)
		in, err := c.EncryptBatch(m.Layout(), randInputs(rand.New(rand.NewPCG(1, 1)), 3, 16))
		if err != nil {
			t.Fatal(err)
		}
		if lv := in.Groups[0][0].Level(); lv != 3 {
			t.Errorf("%v: inputs encrypted at level %d, want 3 (= depth)", mode, lv)
		}
		out, err := s.Evaluate(in)
		if err != nil {
			t.Fatal(err)
		}
		for _, ct := range out.Groups[0] {
			if ct.Level() != 0 {
				t.Errorf("%v: output at level %d, want 0: the model should consume exactly its 3 levels", mode, ct.Level())
			}
		}
	}
}

// conv expands a valid 3×3, stride-1 convolution of a 1-channel side×side
// image into `channels` output maps as a dense out×in matrix.
func conv(r *rand.Rand, side, channels int) Dense {
	o := side - 2
	d := Dense{W: zeros(channels*o*o, side*side), B: make([]float64, channels*o*o)}
	for c := range channels {
		var k [3][3]float64
		for i := range 3 {
			for j := range 3 {
				k[i][j] = r.NormFloat64() / 3
			}
		}
		for y := range o {
			for x := range o {
				row := c*o*o + y*o + x
				for i := range 3 {
					for j := range 3 {
						d.W[row][(y+i)*side+x+j] = k[i][j]
					}
				}
			}
		}
	}
	return d
}

func TestSparseConvPacked(t *testing.T) {
	r := rand.New(rand.NewPCG(61, 61))
	cv := conv(r, 8, 1) // 64 → 36
	net := Network{InputDim: 64, Layers: []Layer{cv, kernelQuad, randDense(r, 3, 36, 1)}}
	m, err := Compile(net, Options{Mode: Packed})
	if err != nil {
		t.Fatal(err)
	}
	// A stride-1 convolution with one map touches few generalized diagonals.
	if n := len(m.diag[0].diags); n >= 64 {
		t.Errorf("convolution uses %d of 64 diagonals; zero diagonals must be skipped", n)
	}
	inputs := randInputs(r, 4, 64)
	for _, rep := range []bool{false, true} {
		got, _, err := Run(net, inputs, Options{Mode: Packed, Replicate: rep})
		if err != nil {
			t.Fatal(err)
		}
		if ag := closeLogits(t, net, inputs, got, 1e-4); ag < 1 {
			t.Errorf("replicate=%v: agreement %.3f, want 1", rep, ag)
		}
	}
}

// TestConcurrentEvaluate runs one server from several goroutines (the
// evaluator is shared; Lattigo 6.2 evaluators are safe for concurrent use).
func TestConcurrentEvaluate(t *testing.T) {
	net := smallMLP(81, 16, 8, 3)
	m, err := Compile(net, Options{Mode: Packed})
	if err != nil {
		t.Fatal(err)
	}
	c, s := parties(t, m)
	inputs := randInputs(rand.New(rand.NewPCG(82, 82)), 3, 16)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			in, err := c.EncryptBatch(m.Layout(), inputs)
			if err != nil {
				errs <- err
				return
			}
			out, err := s.Evaluate(in)
			if err != nil {
				errs <- err
				return
			}
			got, err := c.DecryptLogits(m.Layout(), out)
			if err == nil {
				for i, x := range inputs {
					want, _ := net.Forward(x)
					for j := range want {
						if math.Abs(got[i][j]-want[j]) > 1e-4*max(1, math.Abs(want[j])) {
							err = fmt.Errorf("input %d logit %d: %g, want %g", i, j, got[i][j], want[j])
						}
					}
				}
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
