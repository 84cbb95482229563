package henn

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
)

// FuzzReadModel: any bytes give a checked .henn model or an error, never a
// panic; an accepted model lowers to the packed layout or gives an error,
// never a panic or an allocation its file does not pay for. The seeds are
// real models: a Gemm and a polynomial, and testGraph's residual CNN.
// Lowering is [CompileGraph] without its choice of CKKS parameters, which
// depends on the depth alone and costs milliseconds per call.
func FuzzReadModel(f *testing.F) {
	dir := f.TempDir()
	for i, g := range []*graph.Graph{tinyGemmGraph(), testGraph(rand.New(rand.NewPCG(1, 2)))} {
		path := filepath.Join(dir, "seed.henn")
		if err := WriteModelFile(path, &ModelFile{Source: "seed", Graph: g}); err != nil {
			f.Fatal(i, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(ModelFormat + "\n{}"))
	wide, err := polyChainFile(1<<17, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wide)
	maxBlock := 0
	for _, p := range he.Presets() {
		maxBlock = max(maxBlock, 1<<p.LogN())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mf, err := ReadModel(bytes.NewReader(data))
		if err != nil {
			return
		}
		if mf.Graph == nil || mf.Format != ModelFormat {
			t.Fatalf("accepted a model without a graph or format")
		}
		_, _ = lowerGraph(mf.Graph, maxBlock, true)
	})
}

// tinyGemmGraph is y = poly(x·Wᵀ + b) with x of shape 1×4 and y of 1×2.
func tinyGemmGraph() *graph.Graph {
	w, b := graph.Zeros(2, 4), graph.Zeros(2)
	copy(w.Data, []float64{0.5, -0.25, 1, 0.125, -1, 0.75, 0.5, 2})
	copy(b.Data, []float64{0.1, -0.2})
	return &graph.Graph{
		Inputs:       []graph.ValueInfo{{Name: "x", Shape: []int{1, 4}, DType: graph.Float32}},
		Outputs:      []graph.ValueInfo{{Name: "y", Shape: []int{1, 2}, DType: graph.Float32}},
		Initializers: map[string]*graph.Tensor{"w": w, "b": b},
		Nodes: []*graph.Node{
			{Op: "Gemm", Name: "fc", Inputs: []string{"x", "w", "b"}, Outputs: []string{"h"},
				Attrs: map[string]graph.Attr{"transB": {Kind: graph.AttrInt, Int: 1}}},
			{Op: graph.OpPoly, Name: "act", Inputs: []string{"h"}, Outputs: []string{"y"},
				Attrs: map[string]graph.Attr{"coefficients": {Kind: graph.AttrFloats, Floats: []float64{0.2, 0.5, 0.3}}}},
		},
	}
}

// polyChainFile is a .henn file of `nodes` krelu.Poly nodes on an input of
// shape 1×n: a few hundred bytes whatever n is.
func polyChainFile(n, nodes int) ([]byte, error) {
	poly := graph.Attr{Kind: graph.AttrFloats, Floats: []float64{0.2, 0.5, 0.3}}
	g := &graph.Graph{
		Inputs:       []graph.ValueInfo{{Name: "x", Shape: []int{1, n}, DType: graph.Float32}},
		Outputs:      []graph.ValueInfo{{Name: "y", Shape: []int{1, n}, DType: graph.Float32}},
		Initializers: map[string]*graph.Tensor{},
	}
	prev := "x"
	for i := range nodes {
		out := "h" + strconv.Itoa(i)
		if i == nodes-1 {
			out = "y"
		}
		g.Nodes = append(g.Nodes, &graph.Node{Op: graph.OpPoly, Name: "act" + strconv.Itoa(i), Inputs: []string{prev}, Outputs: []string{out},
			Attrs: map[string]graph.Attr{"coefficients": poly}})
		prev = out
	}
	var b bytes.Buffer
	b.WriteString(ModelFormat + "\n")
	if err := json.NewEncoder(&b).Encode(&ModelFile{Format: ModelFormat, Source: "wide", Graph: g}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// TestLowerGraphHugeInput: a .henn file that declares a model input wider
// than the largest ring is refused before anything input-sized is
// allocated. Before the check, lowering a 1×2^20 input allocated 440 MB
// before refusing it, and the format admits 2^28 elements (≈ 110 GB).
func TestLowerGraphHugeInput(t *testing.T) {
	data, err := polyChainFile(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	mf, err := ReadModel(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the file itself is well-formed: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = CompileGraph(mf.Graph, Options{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooDeep) {
		t.Fatalf("got %v, want ErrTooDeep", err)
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("refusing a 1×2^20 input allocated %d bytes", a)
	}
	t.Log(err)
}

// TestLowerGraphPaddedConv: a Conv whose pads enlarge a 1×1 input to
// 16001×16001 (2 GB as float64; a file of a few hundred bytes) is refused
// by the lowering before anything padded-sized is allocated. Shape
// inference ran the graph on zeros before graph.InferShapes had shape
// rules, and allocated 74 MB for pads of 1000 (2001×2001).
func TestLowerGraphPaddedConv(t *testing.T) {
	ints := func(v ...int64) graph.Attr { return graph.Attr{Kind: graph.AttrInts, Ints: v} }
	w := graph.Zeros(1, 1, 1, 1)
	w.Data[0] = 1
	g := &graph.Graph{
		Inputs:       []graph.ValueInfo{{Name: "x", Shape: []int{1, 1, 1, 1}, DType: graph.Float32}},
		Outputs:      []graph.ValueInfo{{Name: "y", Shape: []int{1, 1, 1, 1}, DType: graph.Float32}},
		Initializers: map[string]*graph.Tensor{"w": w},
		Nodes: []*graph.Node{
			{Op: "Conv", Name: "c", Inputs: []string{"x", "w"}, Outputs: []string{"c"},
				Attrs: map[string]graph.Attr{"pads": ints(8000, 8000, 8000, 8000), "kernel_shape": ints(1, 1)}},
			{Op: "GlobalAveragePool", Name: "p", Inputs: []string{"c"}, Outputs: []string{"y"}},
		},
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := CompileGraph(g, Options{})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a Conv padding a 1×1 input to 16001×16001 was lowered")
	}
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("refusing the padded Conv allocated %d bytes", a)
	}
	t.Log(err)
}
