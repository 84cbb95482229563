package henn

import (
	"fmt"
	"testing"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx"
)

// quadratic returns the committed ONNX model with every ReLU replaced by a
// fixed quadratic: the encrypted cost does not depend on the coefficients
// (krelu compile fits them; see scripts/onnx_experiments.sh).
func quadratic(tb testing.TB, path string) *graph.Graph {
	g, err := onnx.ReadFile(path, onnx.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	for _, n := range g.Nodes {
		if n.Op == "Relu" {
			n.Op = graph.OpPoly
			n.Attrs = map[string]graph.Attr{"coefficients": {Kind: graph.AttrFloats, Floats: []float64{0.1, 0.5, 0.25}}}
		}
	}
	return g
}

// BenchmarkGraph measures the encrypted evaluation of the committed
// PyTorch models (server time: evaluation only; keys and encoded weights
// are made once): "single" is one image in its ciphertext (latency),
// "full" a full ciphertext, reported per image (amortized). The MLP is
// the model Orion (Ebel et al., arXiv 2311.03470) runs with quadratic
// activations at LogN 13; its five levels do not fit a LogN 13 preset with
// krelu's 8 bits of headroom, so "mlp-logn14" is the smallest ring here.
func BenchmarkGraph(b *testing.B) {
	for _, c := range []struct {
		name string
		path string
		logN int
	}{{"lenet5", "../models/lenet5.onnx", 0}, {"mlp-logn14", "../models/mlp.onnx", 0}} {
		b.Run(c.name, func(b *testing.B) { benchGraph(b, c.path, c.logN) })
	}
}

func benchGraph(b *testing.B, path string, logN int) {
	g := quadratic(b, path)
	m, err := CompileGraph(g, Options{LogN: logN})
	if err != nil {
		b.Fatal(err)
	}
	client, evk := keyed(b, m)
	server, err := NewServer(m, evk)
	if err != nil {
		b.Fatal(err)
	}
	l := m.Layout()
	for _, k := range []int{1, l.PerCiphertext()} {
		name := "single"
		if k > 1 {
			name = fmt.Sprintf("full-%d", k)
		} else if l.PerCiphertext() == 1 {
			continue
		}
		inputs := make([][]float64, k)
		for i := range inputs {
			inputs[i] = make([]float64, l.InputDim)
			for j := range inputs[i] {
				inputs[i][j] = float64((i+j)%7) / 7
			}
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				infer(b, client, server, l, inputs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k)/1e6, "ms/image")
		})
	}
}
