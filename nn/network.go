package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/internal/logits"
)

// Network is a feed-forward stack of layers ending in class logits.
type Network struct {
	Arch     string // "mlp", "cnn" or a caller's name; stored in checkpoints
	Task     string // dataset the model was trained for; "" in old checkpoints
	InputDim int
	Layers   []Layer
	// InputShape (e.g. [28 28]) and Preprocess (how raw data become the
	// inputs, e.g. mnist.Preprocess) are recorded in checkpoints so that
	// a model is never scored on data prepared another way; see CheckTask.
	InputShape []int
	Preprocess string
}

// NewMLP returns a perceptron with the given layer widths (sizes[0] is the
// input dimension, the last the number of classes) and activation act (nil
// for ReLU) after every hidden layer.
func NewMLP(sizes []int, act approx.Poly, seed uint64) (*Network, error) {
	if len(sizes) < 2 {
		return nil, fmt.Errorf("nn: an MLP needs at least input and output sizes, have %v", sizes)
	}
	for _, s := range sizes {
		if s <= 0 {
			return nil, fmt.Errorf("nn: non-positive layer size in %v", sizes)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6d6c70))
	n := &Network{Arch: "mlp", InputDim: sizes[0]}
	for i := 1; i < len(sizes); i++ {
		n.Layers = append(n.Layers, NewDense(sizes[i-1], sizes[i], rng))
		if i < len(sizes)-1 {
			n.Layers = append(n.Layers, NewAct(sizes[i], clonePoly(act)))
		}
	}
	return n, nil
}

// NewCNN returns the small CryptoNets-shaped network used for MNIST
// (Gilad-Bachrach et al. 2016): conv 5 kernels 5×5 stride 2 pad 1 on
// 28×28×1 (→ 13×13×5 = 845) → act → dense 845→hidden → act → dense
// hidden→classes.
func NewCNN(hidden, classes int, act approx.Poly, seed uint64) (*Network, error) {
	rng := rand.New(rand.NewPCG(seed, 0x636e6e))
	c, err := NewConv(28, 28, 1, 5, 5, 2, 1, rng)
	if err != nil {
		return nil, err
	}
	if hidden <= 0 || classes <= 0 {
		return nil, fmt.Errorf("nn: invalid CNN sizes hidden=%d classes=%d", hidden, classes)
	}
	out := c.Spec().Out
	return &Network{Arch: "cnn", InputDim: 784, Layers: []Layer{
		c, NewAct(out, clonePoly(act)),
		NewDense(out, hidden, rng), NewAct(hidden, clonePoly(act)),
		NewDense(hidden, classes, rng),
	}}, nil
}

func clonePoly(p approx.Poly) approx.Poly {
	if p == nil {
		return nil
	}
	return append(approx.Poly(nil), p...)
}

// Classes returns the width of the last layer.
func (n *Network) Classes() int { return n.Layers[len(n.Layers)-1].Spec().Out }

// Acts returns the activation layers in order.
func (n *Network) Acts() []*Act {
	var as []*Act
	for _, l := range n.Layers {
		if a, ok := l.(*Act); ok {
			as = append(as, a)
		}
	}
	return as
}

// Params returns all trainable parameters in layer order.
func (n *Network) Params() []*Param {
	var ps []*Param
	for _, l := range n.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Specs returns the architecture.
func (n *Network) Specs() []LayerSpec {
	s := make([]LayerSpec, len(n.Layers))
	for i, l := range n.Layers {
		s[i] = l.Spec()
	}
	return s
}

// Describe is a one-line summary, e.g. "mlp: dense(784→128) relu dense(128→10)".
func (n *Network) Describe() string {
	s := n.Arch + ":"
	for _, sp := range n.Specs() {
		s += " " + sp.String()
	}
	return s
}

// CheckInput reports a clear error if x does not have the network's width.
func (n *Network) CheckInput(x *mat.Dense) error {
	if _, c := x.Dims(); c != n.InputDim {
		return fmt.Errorf("nn: input has %d values per sample, network %s expects %d", c, n.Arch, n.InputDim)
	}
	return nil
}

// Forward returns the logits of a batch.
func (n *Network) Forward(x *mat.Dense) *mat.Dense {
	for _, l := range n.Layers {
		x = l.Forward(x)
	}
	return x
}

// backward propagates the logit gradient through all layers.
func (n *Network) backward(d *mat.Dense) {
	for i := len(n.Layers) - 1; i >= 0; i-- {
		d = n.Layers[i].Backward(d, i > 0)
	}
}

func (n *Network) zeroGrad() {
	for _, p := range n.Params() {
		clear(p.Grad)
	}
}

// Logits evaluates x in batches of at most 1000 rows to bound memory.
func (n *Network) Logits(x *mat.Dense) (*mat.Dense, error) {
	if err := n.CheckInput(x); err != nil {
		return nil, err
	}
	r, _ := x.Dims()
	out := mat.NewDense(r, n.Classes(), nil)
	for i := 0; i < r; i += 1000 {
		j := min(i+1000, r)
		out.Slice(i, j, 0, n.Classes()).(*mat.Dense).Copy(n.Forward(x.Slice(i, j, 0, n.InputDim).(*mat.Dense)))
	}
	return out, nil
}

// Predict returns the arg-max class of every row of x.
func (n *Network) Predict(x *mat.Dense) ([]int, error) {
	l, err := n.Logits(x)
	if err != nil {
		return nil, err
	}
	return Argmax(l), nil
}

// Argmax returns the index of the largest value of every row.
func Argmax(l *mat.Dense) []int {
	r, _ := l.Dims()
	p := make([]int, r)
	for i := range p {
		p[i] = logits.Argmax(l.RawRowView(i))
	}
	return p
}

// Accuracy is the fraction of pred equal to want.
func Accuracy(pred, want []int) float64 {
	if len(pred) == 0 {
		return math.NaN()
	}
	k := 0
	for i := range pred {
		if pred[i] == want[i] {
			k++
		}
	}
	return float64(k) / float64(len(pred))
}

// Record returns, for each activation layer, the pre-activation values it
// sees on x (all samples and units flattened), via the layers' hooks.
func (n *Network) Record(x *mat.Dense) ([][]float64, error) {
	acts := n.Acts()
	rec := make([][]float64, len(acts))
	for i, a := range acts {
		i := i
		a.Hook = func(pre *mat.Dense) { rec[i] = append(rec[i], pre.RawMatrix().Data...) }
	}
	defer func() {
		for _, a := range acts {
			a.Hook = nil
		}
	}()
	if _, err := n.Logits(x); err != nil {
		return nil, err
	}
	return rec, nil
}

// Clone returns a deep copy of n (weights and activations).
func (n *Network) Clone() *Network {
	m, err := fromSpecs(n.Arch, n.Task, n.InputDim, n.Specs())
	if err != nil {
		panic("nn: cloning a valid network failed: " + err.Error())
	}
	m.InputShape, m.Preprocess = append([]int(nil), n.InputShape...), n.Preprocess
	src, dst := n.Params(), m.Params()
	for i := range src {
		copy(dst[i].Value, src[i].Value)
	}
	return m
}

// SetActivations replaces the polynomial of every activation layer by p
// (nil for ReLU).
func (n *Network) SetActivations(p approx.Poly) {
	for _, a := range n.Acts() {
		a.Poly = clonePoly(p)
	}
}

// fromSpecs builds a zero-weight network from its architecture.
func fromSpecs(arch, task string, inputDim int, specs []LayerSpec) (*Network, error) {
	if len(specs) == 0 {
		return nil, errors.New("nn: no layers")
	}
	n := &Network{Arch: arch, Task: task, InputDim: inputDim}
	width := inputDim
	for i, s := range specs {
		var l Layer
		switch s.Type {
		case "dense":
			if s.In <= 0 || s.Out <= 0 {
				return nil, fmt.Errorf("nn: layer %d: invalid dense size %d→%d", i, s.In, s.Out)
			}
			l = NewDense(s.In, s.Out, nil)
		case "conv":
			c, err := NewConv(s.H, s.W, s.InC, s.OutC, s.K, s.Stride, s.Pad, nil)
			if err != nil {
				return nil, fmt.Errorf("nn: layer %d: %w", i, err)
			}
			l = c
		case "act":
			if len(s.Poly) > approx.MaxDegree+1 {
				return nil, fmt.Errorf("nn: layer %d: polynomial degree %d above %d", i, len(s.Poly)-1, approx.MaxDegree)
			}
			for _, c := range s.Poly {
				if math.IsNaN(c) || math.IsInf(c, 0) {
					return nil, fmt.Errorf("nn: layer %d: non-finite activation coefficient", i)
				}
			}
			var p approx.Poly
			if len(s.Poly) > 0 {
				p = approx.Poly(append([]float64(nil), s.Poly...))
			}
			l = NewAct(s.In, p)
		default:
			return nil, fmt.Errorf("nn: layer %d: unknown type %q", i, s.Type)
		}
		if got := l.Spec(); !got.sameShape(s) || got.In != width {
			return nil, fmt.Errorf("nn: layer %d (%s) takes %d inputs, previous layer gives %d", i, s, s.In, width)
		}
		width = l.Spec().Out
		n.Layers = append(n.Layers, l)
	}
	return n, nil
}
