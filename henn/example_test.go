package henn_test

import (
	"fmt"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/henn"
)

func Example() {
	// A 4-3-2 network with the activation 0.25 + 0.5x + 0.125x².
	net := henn.Network{InputDim: 4, Layers: []henn.Layer{
		henn.Dense{W: [][]float64{{1, 0, -1, 0.5}, {0.2, 0.3, 0, -1}, {0, 1, 1, 1}}, B: []float64{0, 0.1, -0.2}},
		henn.Poly{Coeffs: approx.Poly{0.25, 0.5, 0.125}},
		henn.Dense{W: [][]float64{{1, -1, 0.5}, {-0.5, 1, 1}}},
	}}
	inputs := [][]float64{{0.1, 0.2, 0.3, 0.4}, {1, 0, 0.5, 0}}

	m, err := henn.Compile(net, henn.Options{Mode: henn.Packed})
	if err != nil {
		fmt.Println(err)
		return
	}
	client, _ := henn.NewClient(m.Params())
	evk, _ := client.EvaluationKeys(m.Rotations())
	server, _ := henn.NewServer(m, evk)
	in, _ := client.EncryptBatch(m.Layout(), inputs)
	out, _ := server.Evaluate(in)
	logits, err := client.DecryptLogits(m.Layout(), out)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, x := range inputs {
		want, _ := net.Forward(x)
		fmt.Printf("input %d: encrypted [%.4f %.4f], plaintext [%.4f %.4f]\n", i, logits[i][0], logits[i][1], want[0], want[1])
	}
	fmt.Println("depth:", m.Depth())
	// Output:
	// input 0: encrypted [0.4346 0.6823], plaintext [0.4346 0.6823]
	// input 1: encrypted [0.3256 0.5569], plaintext [0.3256 0.5569]
	// depth: 3
}
