package nn

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
)

func randDense(rng *rand.Rand, r, c int) *mat.Dense {
	d := make([]float64, r*c)
	for i := range d {
		d[i] = rng.NormFloat64()
	}
	return mat.NewDense(r, c, d)
}

// lossOf is a fixed random linear functional of the layer output, so that
// dL/dy = proj exactly.
func lossOf(y, proj *mat.Dense) float64 { return mat.Sum(mulElem(y, proj)) }

func mulElem(a, b *mat.Dense) *mat.Dense {
	var c mat.Dense
	c.MulElem(a, b)
	return &c
}

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// checkLayer compares a layer's analytic input and parameter gradients with
// central finite differences.
func checkLayer(t *testing.T, name string, l Layer, x *mat.Dense, rng *rand.Rand) {
	t.Helper()
	y := l.Forward(x)
	r, c := y.Dims()
	proj := randDense(rng, r, c)
	for _, p := range l.Params() {
		clear(p.Grad)
	}
	dx := l.Backward(proj, true)
	const h = 1e-5
	xr, xc := x.Dims()
	for k := 0; k < 20; k++ {
		i, j := rng.IntN(xr), rng.IntN(xc)
		v := x.At(i, j)
		x.Set(i, j, v+h)
		lp := lossOf(l.Forward(x), proj)
		x.Set(i, j, v-h)
		lm := lossOf(l.Forward(x), proj)
		x.Set(i, j, v)
		if num := (lp - lm) / (2 * h); !near(num, dx.At(i, j), 1e-6) {
			t.Errorf("%s: dL/dx[%d,%d] = %v, finite difference %v", name, i, j, dx.At(i, j), num)
		}
	}
	for _, p := range l.Params() {
		for k := 0; k < 20; k++ {
			i := rng.IntN(len(p.Value))
			v := p.Value[i]
			p.Value[i] = v + h
			lp := lossOf(l.Forward(x), proj)
			p.Value[i] = v - h
			lm := lossOf(l.Forward(x), proj)
			p.Value[i] = v
			if num := (lp - lm) / (2 * h); !near(num, p.Grad[i], 1e-6) {
				t.Errorf("%s: dL/d%s[%d] = %v, finite difference %v", name, p.Name, i, p.Grad[i], num)
			}
		}
	}
}

func TestGradDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	checkLayer(t, "dense", NewDense(7, 5, rng), randDense(rng, 4, 7), rng)
}

func TestGradConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, g := range [][7]int{{8, 8, 1, 3, 5, 2, 1}, {7, 6, 2, 3, 3, 1, 0}, {9, 9, 3, 2, 3, 2, 2}} {
		c, err := NewConv(g[0], g[1], g[2], g[3], g[4], g[5], g[6], rng)
		if err != nil {
			t.Fatal(err)
		}
		checkLayer(t, c.Spec().String(), c, randDense(rng, 3, g[0]*g[1]*g[2]), rng)
	}
}

func TestGradAct(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	checkLayer(t, "poly", NewAct(6, approx.Poly{0.2, 0.5, 0.2, -0.01, 0.003}), randDense(rng, 4, 6), rng)
	// ReLU is not differentiable at 0; random normal inputs avoid it a.s.
	// and the step h is far below the smallest |x| drawn here.
	x := randDense(rng, 4, 6)
	for i, v := range x.RawMatrix().Data {
		if math.Abs(v) < 1e-3 {
			x.RawMatrix().Data[i] = 0.5
		}
	}
	checkLayer(t, "relu", NewAct(6, nil), x, rng)
}

// TestGradNetwork checks the full network (conv → act → dense → act →
// dense → softmax cross-entropy) against finite differences of the loss.
func TestGradNetwork(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	n, err := NewCNN(6, 10, approx.Poly{0.1, 0.5, 0.2}, 9)
	if err != nil {
		t.Fatal(err)
	}
	x := randDense(rng, 3, 784)
	y := []int{1, 5, 9}
	n.zeroGrad()
	_, g := SoftmaxCrossEntropy(n.Forward(x), y)
	n.backward(g)
	const h = 1e-5
	for _, p := range n.Params() {
		for k := 0; k < 5; k++ {
			i := rng.IntN(len(p.Value))
			v := p.Value[i]
			p.Value[i] = v + h
			lp, _ := SoftmaxCrossEntropy(n.Forward(x), y)
			p.Value[i] = v - h
			lm, _ := SoftmaxCrossEntropy(n.Forward(x), y)
			p.Value[i] = v
			if num := (lp - lm) / (2 * h); !near(num, p.Grad[i], 1e-5) {
				t.Errorf("%s[%d]: analytic %v, finite difference %v", p.Name, i, p.Grad[i], num)
			}
		}
	}
}

func TestSoftmaxCrossEntropyClosedForm(t *testing.T) {
	// Equal logits: loss = log K, gradient = (1/K − onehot)/n.
	l := mat.NewDense(2, 4, nil)
	loss, g := SoftmaxCrossEntropy(l, []int{0, 3})
	if !near(loss, math.Log(4), 1e-12) {
		t.Errorf("loss %v, want log 4", loss)
	}
	if !near(g.At(0, 0), (0.25-1)/2, 1e-12) || !near(g.At(1, 1), 0.25/2, 1e-12) {
		t.Errorf("gradient %v", mat.Formatted(g))
	}
	// Huge logits must not overflow.
	l.Set(0, 1, 1e4)
	if loss, _ := SoftmaxCrossEntropy(l, []int{1, 3}); math.IsNaN(loss) || math.IsInf(loss, 0) {
		t.Errorf("loss %v with a huge logit", loss)
	}
}

// TestConvMatrix checks that the dense expansion of a convolution equals
// the im2col forward pass.
func TestConvMatrix(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	c, _ := NewConv(9, 7, 2, 3, 3, 2, 1, rng)
	for i := range c.B.Value {
		c.B.Value[i] = rng.NormFloat64()
	}
	x := randDense(rng, 4, 9*7*2)
	y := c.Forward(x)
	m, b := c.Matrix()
	var z mat.Dense
	z.Mul(x, m)
	addRow(&z, b)
	if !mat.EqualApprox(y, &z, 1e-12) {
		t.Error("conv Matrix() disagrees with Forward")
	}
}

// TestConvKnown checks one output against a hand computation.
func TestConvKnown(t *testing.T) {
	c, _ := NewConv(3, 3, 1, 1, 2, 1, 0, nil)
	copy(c.Kern.Value, []float64{1, 2, 3, 4}) // taps (0,0),(0,1),(1,0),(1,1)
	c.B.Value[0] = 0.5
	x := mat.NewDense(1, 9, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9})
	y := c.Forward(x)
	// top-left: 1·1+2·2+3·4+4·5+0.5 = 37.5; bottom-right: 5+12+24+36+0.5 = 77.5
	if !near(y.At(0, 0), 37.5, 1e-12) || !near(y.At(0, 3), 77.5, 1e-12) {
		t.Errorf("got %v", y.RawRowView(0))
	}
}

func xorData(rng *rand.Rand, n int) (*mat.Dense, []int) {
	x := mat.NewDense(n, 2, nil)
	y := make([]int, n)
	for i := range y {
		a, b := rng.Float64()*2-1, rng.Float64()*2-1
		x.Set(i, 0, a)
		x.Set(i, 1, b)
		if a*b > 0 {
			y[i] = 1
		}
	}
	return x, y
}

// TestTrainXOR learns the sign of a·b, which no linear model can, with
// ReLU and with a square-free quadratic activation.
func TestTrainXOR(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	x, y := xorData(rng, 2000)
	vx, vy := xorData(rng, 500)
	for _, act := range []approx.Poly{nil, {0.25, 0.5, 0.125}} {
		n, _ := NewMLP([]int{2, 16, 2}, act, 1)
		var buf bytes.Buffer
		st, err := n.Train(x, y, vx, vy, TrainConfig{Epochs: 30, BatchSize: 32, LR: 0.01, Seed: 1, Patience: 10, Progress: &buf})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := n.Predict(vx)
		if acc := Accuracy(p, vy); acc < 0.95 {
			t.Errorf("%v: validation accuracy %.3f after %d epochs", act, acc, len(st))
		}
		if !strings.Contains(buf.String(), "ETA") || !strings.Contains(buf.String(), "val_acc") {
			t.Errorf("progress output missing fields: %q", buf.String()[:min(200, buf.Len())])
		}
	}
}

func TestTrainDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 15))
	x, y := xorData(rng, 300)
	run := func() []float64 {
		n, _ := NewMLP([]int{2, 8, 2}, nil, 3)
		n.Train(x, y, x, y, TrainConfig{Epochs: 2, BatchSize: 16, Seed: 4})
		return n.Params()[0].Value
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed gave different weights")
		}
	}
}

func TestTrainBadInput(t *testing.T) {
	n, _ := NewMLP([]int{4, 3, 2}, nil, 1)
	x := mat.NewDense(2, 4, nil)
	for _, c := range []struct {
		x    *mat.Dense
		y    []int
		want string
	}{
		{mat.NewDense(2, 5, nil), []int{0, 1}, "5 values per sample"},
		{x, []int{0, 2}, "label 2 of sample 1 out of range"},
		{x, []int{0, -1}, "out of range"},
		{x, []int{0}, "2 samples but 1 labels"},
	} {
		_, err := n.Train(c.x, c.y, x, []int{0, 1}, TrainConfig{Epochs: 1})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	n, _ := NewCNN(7, 10, approx.Poly{0.1, 0.5, 0.2}, 3)
	n.Task = "mnist"
	var b bytes.Buffer
	if err := n.Save(&b); err != nil {
		t.Fatal(err)
	}
	m, err := Load(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	x := randDense(rng, 3, 784)
	if !mat.Equal(n.Forward(x), m.Forward(x)) || m.Task != "mnist" || m.Describe() != n.Describe() {
		t.Error("round trip changed the network")
	}
	// A checkpoint of another architecture is refused by name.
	mlp, _ := NewMLP([]int{784, 128, 10}, nil, 1)
	err = mlp.LoadInto(bytes.NewReader(b.Bytes()))
	if err == nil || !strings.Contains(err.Error(), `architecture "cnn" does not match`) {
		t.Errorf("loading a cnn into an mlp: %v", err)
	}
	// Corruption is caught.
	bad := append([]byte{}, b.Bytes()...)
	bad[len(bad)/2] ^= 1
	if _, err := Load(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupt: %v", err)
	}
	if _, err := Load(bytes.NewReader(b.Bytes()[:100])); err == nil {
		t.Error("truncated checkpoint accepted")
	}
	if _, err := Load(strings.NewReader("GIF89a........................")); err == nil || !strings.Contains(err.Error(), "magic") {
		t.Errorf("not a checkpoint: %v", err)
	}
	future := append([]byte{}, b.Bytes()...)
	future[8] = Version + 1
	if _, err := Load(bytes.NewReader(future)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("version %d", Version+1)) {
		t.Errorf("version %d: %v", Version+1, err)
	}
}

func TestRecord(t *testing.T) {
	n, _ := NewMLP([]int{3, 4, 5, 2}, nil, 1)
	x := mat.NewDense(2, 3, []float64{1, 2, 3, -1, 0, 1})
	rec, err := n.Record(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec) != 2 || len(rec[0]) != 8 || len(rec[1]) != 10 {
		t.Fatalf("recorded sizes %d %d %d", len(rec), len(rec[0]), len(rec[1]))
	}
	want := n.Layers[0].Forward(x)
	for i, v := range want.RawMatrix().Data {
		if rec[0][i] != v {
			t.Fatal("recorded pre-activation differs from the dense output")
		}
	}
	if n.Acts()[0].Hook != nil {
		t.Error("hook left installed")
	}
}
