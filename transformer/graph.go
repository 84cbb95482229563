package transformer

import (
	"fmt"
	"math"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx"
)

// graphOpset is the ONNX opset the exported graph follows: 17 is the first
// with LayerNormalization and the last whose ReduceMean takes its axes as
// an attribute.
const graphOpset = 17

// Graph exports m, for inputs of exactly tokens tokens, into krelu's model
// IR (package graph), in ONNX operators: the input "ids" (int64, shape
// [tokens]) gathers rows of the embedding table, then MatMul + Add for
// the projection and the positions' first tokens rows; per encoder layer
// the four attention projections (MatMul + Add), heads split by Reshape
// and Transpose, scores by MatMul and a Mul by 1/√d_k, Softmax over the
// keys, the heads merged back, the residual Add and LayerNormalization,
// then the FFN with Relu (or krelu.Poly when m's activation is a
// polynomial) and its residual Add; finally ReduceMean over the tokens and
// the classifier, output "logits" of shape [1, Classes]. graph.Run of the
// result reproduces Model.Predict's logits up to rounding; onnx.Write
// writes it as an ONNX file (opset 17).
//
// Graph shapes are static, so a graph serves one sentence length; the
// weights are copied, and later changes to m do not reach the graph.
func (m *Model) Graph(tokens int) (*graph.Graph, error) {
	if err := m.Cfg.Validate(); err != nil {
		return nil, err
	}
	c := m.Cfg
	if tokens < 1 || tokens > c.MaxLen {
		return nil, fmt.Errorf("transformer: graph for %d tokens: want 1…%d (the model's maximum length)", tokens, c.MaxLen)
	}
	if len(m.Blocks) != c.Layers {
		return nil, fmt.Errorf("transformer: the model has %d blocks but its configuration says %d layers", len(m.Blocks), c.Layers)
	}
	b := &graphBuilder{g: &graph.Graph{Name: "krelu-transformer", Opset: graphOpset, Initializers: map[string]*graph.Tensor{}}}
	g := b.g
	g.Inputs = []graph.ValueInfo{{Name: "ids", Shape: []int{tokens}, DType: graph.Int64}}
	emb := b.param("embedding", m.Emb)
	x := b.node("Gather", "embed", []string{emb, "ids"}, map[string]graph.Attr{"axis": intAttr(0)})
	x = b.linear("proj", x, m.Proj)
	b.init("pos.rows", &graph.Tensor{Shape: []int{tokens, c.Dim}, Data: append([]float64(nil), m.Pos.W[:tokens*c.Dim]...)})
	x = b.node("Add", "pos", []string{x, "pos.rows"}, nil)
	dk := c.Dim / c.Heads
	b.init("heads.shape", ints(tokens, c.Heads, dk))
	b.init("tokens.shape", ints(tokens, c.Dim))
	b.init("attn.scale", &graph.Tensor{Shape: []int{1}, Data: []float64{1 / math.Sqrt(float64(dk))}})
	for l, blk := range m.Blocks {
		p := fmt.Sprintf("l%d.", l)
		// heads returns the projection of x split into heads, [H, T, dk],
		// or with perm (1, 2, 0) the keys' [H, dk, T].
		heads := func(name string, w Linear, perm ...int64) string {
			y := b.linear(p+name, x, w)
			y = b.node("Reshape", p+name+".split", []string{y, "heads.shape"}, nil)
			return b.node("Transpose", p+name+".heads", []string{y}, map[string]graph.Attr{"perm": {Kind: graph.AttrInts, Ints: perm}})
		}
		q := heads("q", blk.Attn.Q, 1, 0, 2)
		k := heads("k", blk.Attn.K, 1, 2, 0)
		v := heads("v", blk.Attn.V, 1, 0, 2)
		s := b.node("MatMul", p+"scores", []string{q, k}, nil)
		s = b.node("Mul", p+"scaled", []string{s, "attn.scale"}, nil)
		a := b.node("Softmax", p+"softmax", []string{s}, map[string]graph.Attr{"axis": intAttr(-1)})
		o := b.node("MatMul", p+"context", []string{a, v}, nil)
		o = b.node("Transpose", p+"merge", []string{o}, map[string]graph.Attr{"perm": {Kind: graph.AttrInts, Ints: []int64{1, 0, 2}}})
		o = b.node("Reshape", p+"merged", []string{o, "tokens.shape"}, nil)
		o = b.linear(p+"o", o, blk.Attn.O)
		r := b.node("Add", p+"attn.residual", []string{x, o}, nil)
		h := b.node("LayerNormalization", p+"ln", []string{r, b.row(p+"ln.gamma", blk.LN.Gamma), b.row(p+"ln.beta", blk.LN.Beta)},
			map[string]graph.Attr{"axis": intAttr(-1), "epsilon": {Kind: graph.AttrFloat, Float: blk.LN.Eps}})
		u := b.linear(p+"ffn1", h, blk.FFN.In)
		var z string
		if m.Act.IsReLU() {
			z = b.node("Relu", p+"act", []string{u}, nil)
		} else {
			z = b.node(graph.OpPoly, p+"act", []string{u}, map[string]graph.Attr{
				"coefficients": {Kind: graph.AttrFloats, Floats: append([]float64(nil), m.Act.Poly...)}})
		}
		f := b.linear(p+"ffn2", z, blk.FFN.Out)
		x = b.node("Add", p+"ffn.residual", []string{h, f}, nil)
	}
	x = b.node("ReduceMean", "pool", []string{x}, map[string]graph.Attr{
		"axes": {Kind: graph.AttrInts, Ints: []int64{0}}, "keepdims": intAttr(1)})
	x = b.linear("cls", x, m.Cls)
	g.Nodes[len(g.Nodes)-1].Outputs[0] = "logits"
	g.Outputs = []graph.ValueInfo{{Name: "logits", Shape: []int{1, c.Classes}, DType: graph.Float64}}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("transformer: exported graph: %w", err)
	}
	return g, nil
}

// GraphInput returns token ids as the input tensor of the graph Graph
// exports for len(ids) tokens.
func GraphInput(ids []int) *graph.Tensor {
	t := &graph.Tensor{Shape: []int{len(ids)}, Data: make([]float64, len(ids)), DType: graph.Int64}
	for i, id := range ids {
		t.Data[i] = float64(id)
	}
	return t
}

// graphBuilder appends nodes whose single output is named like the node.
type graphBuilder struct{ g *graph.Graph }

func (b *graphBuilder) node(op, name string, inputs []string, attrs map[string]graph.Attr) string {
	b.g.Nodes = append(b.g.Nodes, &graph.Node{Op: op, Name: name, Inputs: inputs, Outputs: []string{name}, Attrs: attrs})
	return name
}

func (b *graphBuilder) init(name string, t *graph.Tensor) { b.g.Initializers[name] = t }

// param adds p as an R×C initializer called name.
func (b *graphBuilder) param(name string, p *Param) string {
	b.init(name, &graph.Tensor{Shape: []int{p.R, p.C}, Data: append([]float64(nil), p.W...)})
	return name
}

// row adds the 1×C parameter p as a vector of C values called name.
func (b *graphBuilder) row(name string, p *Param) string {
	b.init(name, &graph.Tensor{Shape: []int{p.R * p.C}, Data: append([]float64(nil), p.W...)})
	return name
}

// linear appends x·W + b (MatMul, then Add of the bias row).
func (b *graphBuilder) linear(name, x string, l Linear) string {
	y := b.node("MatMul", name, []string{x, b.param(name+".W", l.W)}, nil)
	return b.node("Add", name+".bias", []string{y, b.row(name+".b", l.B)}, nil)
}

func intAttr(v int64) graph.Attr { return graph.Attr{Kind: graph.AttrInt, Int: v} }

func ints(v ...int) *graph.Tensor {
	t := &graph.Tensor{Shape: []int{len(v)}, DType: graph.Int64}
	for _, x := range v {
		t.Data = append(t.Data, float64(x))
	}
	return t
}

// ONNXExport reports ExportONNX.
type ONNXExport struct {
	Output     string `json:"output"`
	Tokens     int    `json:"tokens"`
	Activation string `json:"activation"`
	Opset      int    `json:"opset"`
	Nodes      int    `json:"nodes"`
	// Params counts the initializer values (the whole embedding table
	// included).
	Params int `json:"params"`
	// CheckMaxDiff is the largest difference between the graph's logits
	// (run by the graph runtime) and Model.Predict's on one sentence of
	// Tokens ids, checked before the file is written.
	CheckMaxDiff float64 `json:"check_max_abs_diff"`
}

// ExportONNX reads the SST-2 model file model, exports it (Model.Graph) for
// sentences of exactly tokens tokens (0: the model's maximum length),
// checks that the graph runtime reproduces Model.Predict on one sentence
// to 1e-9, and writes the graph to out as ONNX (onnx.Write). The input is
// the token ids of the model's own vocabulary and tokenisation.
func ExportONNX(model string, tokens int, out string) (*ONNXExport, error) {
	s, err := LoadFile(model)
	if err != nil {
		return nil, err
	}
	if err := s.CheckTask(TaskSST2); err != nil {
		return nil, fmt.Errorf("%s: %w", model, err)
	}
	m := s.Model
	if tokens == 0 {
		tokens = m.Cfg.MaxLen
	}
	g, err := m.Graph(tokens)
	if err != nil {
		return nil, err
	}
	ids := make([]int, tokens)
	for i := range ids {
		ids[i] = (7*i + 1) % m.Cfg.Vocab
	}
	_, want, err := m.Predict(ids)
	if err != nil {
		return nil, err
	}
	res, err := g.Run(map[string]*graph.Tensor{"ids": GraphInput(ids)})
	if err != nil {
		return nil, fmt.Errorf("transformer: running the exported graph: %w", err)
	}
	rep := &ONNXExport{Output: out, Tokens: tokens, Activation: m.Act.String(), Opset: g.Opset, Nodes: len(g.Nodes)}
	for j, v := range want {
		rep.CheckMaxDiff = math.Max(rep.CheckMaxDiff, math.Abs(res["logits"].Data[j]-v))
	}
	if !(rep.CheckMaxDiff <= 1e-9) {
		return nil, fmt.Errorf("transformer: the exported graph's logits differ from the model's by %.3g (want ≤ 1e-9); not written", rep.CheckMaxDiff)
	}
	for _, t := range g.Initializers {
		rep.Params += len(t.Data)
	}
	if err := onnx.WriteFile(out, g); err != nil {
		return nil, err
	}
	return rep, nil
}
