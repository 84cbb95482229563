package nn

import (
	"math/rand/v2"
	"testing"

	"github.com/krelu/krelu/optim"
)

// BenchmarkTrainBatch measures one Adam step on a 128-image mini-batch.
func BenchmarkTrainBatch(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	x := randDense(rng, 128, 784)
	y := make([]int, 128)
	for i := range y {
		y[i] = i % 10
	}
	mlp, _ := NewMLP([]int{784, 128, 10}, nil, 1)
	cnn, _ := NewCNN(100, 10, nil, 1)
	for _, n := range []*Network{mlp, cnn} {
		b.Run(n.Arch, func(b *testing.B) {
			opt, ts := optim.NewAdam(1e-3), adamTensors(n.Params())
			for b.Loop() {
				n.zeroGrad()
				_, g := SoftmaxCrossEntropy(n.Forward(x), y)
				n.backward(g)
				opt.Step(ts, 1)
			}
		})
	}
}
