package nn_test

import (
	"fmt"
	"log"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/nn"
)

// A quadratic activation network exports to the plain description that
// package henn evaluates under encryption; the convolution becomes a dense
// 784→845 map.
func ExampleNetwork_HENN() {
	n, err := nn.NewCNN(100, 10, nn.FasterCryptoNets, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n.Describe())
	h, err := n.HENN()
	if err != nil {
		log.Fatal(err)
	}
	out, _ := h.Validate()
	fmt.Println(len(h.Layers), "henn layers,", out, "logits")
	// Output:
	// cnn: conv(28x28x1, 5×5x5/2 pad 1) poly2 dense(845→100) poly2 dense(100→10)
	// 5 henn layers, 10 logits
}

// The least-squares quadratic to ReLU on the uniform grid of [−1, 1] is
// close to its closed form 3/32 + x/2 + 15x²/32.
func ExampleLeastSquares() {
	u := make([]float64, 2001)
	for i := range u {
		u[i] = -1 + float64(i)/1000
	}
	p, _ := nn.LeastSquares(u, func(x float64) float64 { return max(x, 0) }, 2)
	fmt.Printf("%.3f %.3f %.3f\n", p[0], p[1], p[2])
	// Output: 0.094 0.500 0.469
}

// Swapping the ReLU of a network for x² post hoc.
func ExampleSwapByName() {
	n, _ := nn.NewMLP([]int{4, 3, 2}, nil, 1)
	calib := mat.NewDense(2, 4, []float64{1, 2, 3, 4, -1, 0, 1, 2})
	m, res, err := nn.SwapByName(n, calib, "square", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Describe(), approx.Poly(res.Polys[0]))
	// Output: mlp: dense(4→3) poly2 dense(3→2) [0 0 1]
}
