package onnx

import (
	"math"
	"testing"

	"github.com/krelu/krelu/graph"
)

// A graph with a krelu.Poly activation whose coefficients are not float32
// values survives Write → Read exactly.
func TestWritePolyRoundTrip(t *testing.T) {
	g, err := Read(marshal(t, tinyModel()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	coef := []float64{0.1, 0.5, 1.0 / 3}
	for _, n := range g.Nodes {
		if n.Op == "Relu" {
			n.Op = graph.OpPoly
			n.Attrs = map[string]graph.Attr{"coefficients": {Kind: graph.AttrFloats, Floats: coef},
				"method": {Kind: graph.AttrString, String: "kernel"}}
		}
	}
	b, err := Write(g)
	if err != nil {
		t.Fatal(err)
	}
	g2, err := Read(b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []float64
	for _, n := range g2.Nodes {
		if n.Op == graph.OpPoly {
			got = n.AttrFloats("coefficients")
		}
	}
	if len(got) != 3 || got[2] != coef[2] {
		t.Fatalf("coefficients %v, want %v", got, coef)
	}
	x, _ := graph.NewTensor([]int{1, 4}, []float64{4, 1, 1, 0})
	o1, err1 := g.Run(map[string]*graph.Tensor{"x": x})
	o2, err2 := g2.Run(map[string]*graph.Tensor{"x": x})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for i, v := range o1["y"].Data {
		// z = [3.5, 0.5]: y = 0.1 + 0.5 z + z²/3.
		z := []float64{3.5, 0.5}[i]
		if want := 0.1 + 0.5*z + z*z/3; math.Abs(v-want) > 1e-15 || o2["y"].Data[i] != v {
			t.Fatalf("y[%d] = %v / %v, want %v", i, v, o2["y"].Data[i], want)
		}
	}
}
