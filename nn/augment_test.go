package nn

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestShiftMovesPixels checks Shift against the definition on a 5×5 image
// whose pixel values encode their own position.
func TestShiftMovesPixels(t *testing.T) {
	const side = 5
	src := make([]float64, side*side)
	for i := range src {
		src[i] = float64(i + 1)
	}
	dst := make([]float64, side*side)
	for dy := -2; dy <= 2; dy++ {
		for dx := -2; dx <= 2; dx++ {
			Shift(dst, src, side, dx, dy)
			for r := 0; r < side; r++ {
				for c := 0; c < side; c++ {
					want := 0.0
					if sr, sc := r-dy, c-dx; sr >= 0 && sr < side && sc >= 0 && sc < side {
						want = float64(sr*side + sc + 1)
					}
					if got := dst[r*side+c]; got != want {
						t.Fatalf("shift (%d,%d): pixel (%d,%d) = %v, want %v", dx, dy, r, c, got, want)
					}
				}
			}
		}
	}
	// One pixel right: the first column is empty and the second is the old first.
	Shift(dst, src, side, 1, 0)
	if dst[0] != 0 || dst[1] != 1 || dst[side+1] != float64(side+1) {
		t.Errorf("shift right by 1: first row %v", dst[:side])
	}
	// Shifting by zero is the identity.
	Shift(dst, src, side, 0, 0)
	for i := range src {
		if dst[i] != src[i] {
			t.Fatalf("zero shift changed pixel %d", i)
		}
	}
}

func TestShifterSeededAndBounded(t *testing.T) {
	src := make([]float64, 28*28)
	for i := range src {
		src[i] = math.Sin(float64(i))
	}
	a, err := NewShifter(len(src), 0, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewShifter(len(src), 0, 2, 7)
	c, _ := NewShifter(len(src), 0, 2, 8)
	da, db, dc := make([]float64, len(src)), make([]float64, len(src)), make([]float64, len(src))
	want := make([]float64, len(src))
	differ, seen := false, map[[2]int]bool{}
	for k := 0; k < 200; k++ {
		ax, ay := a.Apply(da, src)
		bx, by := b.Apply(db, src)
		cx, cy := c.Apply(dc, src)
		if ax != bx || ay != by {
			t.Fatalf("draw %d: same seed gave shifts (%d,%d) and (%d,%d)", k, ax, ay, bx, by)
		}
		differ = differ || ax != cx || ay != cy
		if ax < -2 || ax > 2 || ay < -2 || ay > 2 {
			t.Fatalf("shift (%d,%d) outside ±2", ax, ay)
		}
		seen[[2]int{ax, ay}] = true
		Shift(want, src, 28, ax, ay)
		for i := range want {
			if da[i] != want[i] || db[i] != want[i] {
				t.Fatalf("draw %d: augmented image is not the original shifted by (%d,%d)", k, ax, ay)
			}
		}
	}
	if !differ {
		t.Error("seeds 7 and 8 gave identical shift sequences")
	}
	if len(seen) < 20 {
		t.Errorf("only %d of 25 shifts drawn in 200 draws", len(seen))
	}
}

func TestShifterBadInput(t *testing.T) {
	for _, c := range []struct {
		dim, side, max int
		want           string
	}{
		{10, 0, 1, "square images"},
		{784, 27, 1, "square images"},
		{784, 0, 28, "out of range"},
		{784, 0, -1, "out of range"},
	} {
		if _, err := NewShifter(c.dim, c.side, c.max, 1); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewShifter(%d, %d, %d) = %v, want %q", c.dim, c.side, c.max, err, c.want)
		}
	}
}

// TestTrainAugmentDeterministic trains with shifts, the cosine schedule and
// weight decay twice per seed: same seed, same weights; the labels and
// shapes pass through (a 3×3 image task, 2 classes).
func TestTrainAugmentDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const n = 200
	x := mat.NewDense(n, 9, nil)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 2
		// class 1: bright image; class 0: dark — shift-invariant up to the border.
		for j := 0; j < 9; j++ {
			x.Set(i, j, rng.Float64()*0.1+0.9*float64(y[i]))
		}
	}
	run := func(seed uint64) []float64 {
		net, _ := NewMLP([]int{9, 8, 2}, nil, 3)
		st, err := net.Train(x, y, x, y, TrainConfig{Epochs: 8, BatchSize: 16, LR: 0.02, Seed: seed,
			Shift: 1, Schedule: "cosine", WeightDecay: 1e-3})
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 8 {
			t.Fatalf("%d epochs run, want 8", len(st))
		}
		if st[len(st)-1].ValAcc < 0.9 {
			t.Errorf("seed %d: validation accuracy %.3f on a separable task", seed, st[len(st)-1].ValAcc)
		}
		return append([]float64(nil), net.Params()[0].Value...)
	}
	a, b, c := run(4), run(4), run(5)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed gave different weights with augmentation")
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Error("different seeds gave identical weights")
	}
	net, _ := NewMLP([]int{10, 4, 2}, nil, 1)
	x10 := mat.NewDense(2, 10, nil)
	if _, err := net.Train(x10, []int{0, 1}, x10, []int{0, 1}, TrainConfig{Epochs: 1, Shift: 1}); err == nil || !strings.Contains(err.Error(), "square") {
		t.Errorf("shift on non-square input: %v", err)
	}
	if _, err := net.Train(x10, []int{0, 1}, x10, []int{0, 1}, TrainConfig{Epochs: 1, Schedule: "step"}); err == nil || !strings.Contains(err.Error(), "schedule") {
		t.Errorf("unknown schedule: %v", err)
	}
}
