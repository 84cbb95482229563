package henn

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/krelu/krelu/graph"
)

// This file lowers a model graph (package graph, after the activations were
// replaced by krelu.Poly nodes) to ciphertext steps.
//
// Every linear op (Conv, Gemm, MatMul, BatchNormalization, AveragePool,
// affine Add/Sub/Mul/Div with constants, residual Add) is kept as a sparse
// matrix over the logical elements of its sources; consecutive linear ops
// are composed symbolically and only materialized, as one ciphertext step of
// one level, where an activation (or the output) needs a ciphertext. A
// residual Add is the sum of two such maps reading two different
// ciphertexts: both are multiplied at the lower of their levels, with
// plaintext scales chosen so that every product lands on the same scale, so
// the join costs no level and no scale correction.
//
// Layout (where element e of a ciphertext value lives inside the block of
// B feature positions of one input):
//
//   - Spatial values keep the input's grid. Channel c of a C×H×W tensor
//     occupies the plane [c·P, (c+1)·P) with P = H0·W0 of the model input;
//     a convolution or pooling of stride s writes output (o, y, x) where
//     its top-left input (o, s·y, s·x) would be, so strided outputs sit on
//     a grid with gaps instead of being compacted — the "gapped" layout of
//     Lee et al., "Low-Complexity Deep Convolutional Neural Networks on
//     Fully Homomorphic Encryption Using Multiplexed Parallel
//     Convolutions" (ICML 2022), without their multiplexing of channels
//     into the gaps. A convolution is then Σ_r d_r ⊙ rot(x, r) over the
//     shifts r = (c−o)·P + dy·Rs + dx·Cs: (Cin+Cout−1) channel offsets times
//     k² kernel offsets, evaluated baby-step/giant-step with the kernel
//     offsets as hoisted baby steps and the channel offsets as giant steps
//     (the rotation count of GAZELLE's channel-diagonal packing, Juvekar
//     et al., USENIX Security 2018: about k² + Cin + Cout, not Cin·Cout·k²).
//   - Dense values are compact and tiled: element i at every position ≡ i
//     (mod p), p = pow2(n); a dense layer reading them uses GAZELLE's hybrid
//     diagonals (min(in, out) diagonals, then log2 rotate-and-add steps),
//     and a dense layer reading a spatial value (after Flatten) uses the
//     same hybrid form over the scattered positions.
//   - An AveragePool (or GlobalAveragePool) right after an activation costs
//     no level: its input is c2·z+e with a scalar c2, so the window sum of z
//     is taken by rotations and additions alone (separably: kw−1 then kh−1
//     rotations) and the factor c2/k² joins the next linear map.
//
// Every diagonal entry is nonzero only at valid output positions and reads
// only valid input positions, so positions outside a value's layout hold
// zeros (or partial window sums that nothing reads).

// term is one weight of a sparse row: input element j of the part's source.
type term struct {
	j int
	w float64
}

// pending is a logical value not yet computed on ciphertexts: an affine map
// of one or more ciphertext values.
type pending struct {
	n     int
	parts map[int][][]term // source ciphertext value → rows (one per element)
	bias  []float64
	geom  *geometry // natural spatial placement (rank-3 values), or nil
	pos   []int     // natural positions of the elements, or nil
}

// geometry places element (c, y, x) at off(c) + y·Rs + x·Cs, with
// off(c) = Off[c], or Base + c·P when Off is nil. W0 is the row step of the
// model input's grid.
type geometry struct {
	C, H, W         int
	P, Rs, Cs, Base int
	W0              int
	Off             []int
}

func (g *geometry) off(c int) int {
	if g.Off != nil {
		return g.Off[c]
	}
	return g.Base + c*g.P
}

func (g *geometry) positions() []int {
	pos := make([]int, g.C*g.H*g.W)
	for c := 0; c < g.C; c++ {
		for y := 0; y < g.H; y++ {
			for x := 0; x < g.W; x++ {
				pos[(c*g.H+y)*g.W+x] = g.off(c) + y*g.Rs + x*g.Cs
			}
		}
	}
	return pos
}

// layout says where the elements of a ciphertext value are.
type layout struct {
	n      int
	pos    []int // canonical positions (scattered layouts)
	period int   // > 0: compact, element i at every position ≡ i mod period
	geom   *geometry
}

func (l layout) at(i int) int {
	if l.period > 0 {
		return i
	}
	return l.pos[i]
}

// gValue is one ciphertext of the evaluation.
type gValue struct {
	kind  int // gvInput, gvLinear, gvSquare, gvRotSum
	src   int // gvSquare, gvRotSum: the value it is computed from
	lin   *gLinear
	steps [][]int // gvRotSum: x ← Σ_{o∈step} rot(x, o), step after step (features)
	lay   layout
	depth int // levels consumed from the input to this value
	name  string
}

const (
	gvInput = iota
	gvLinear
	gvSquare
	gvRotSum
)

// gLinear is a materialized affine step: Σ_parts Σ_r d_r ⊙ rot(src, r), one
// rescale, then rotate-and-add steps (hybrid layouts), then the bias.
type gLinear struct {
	parts []*gPart
	sum   []int     // rotate-and-add steps (features)
	bias  []float64 // length B
}

// gPart is the share of one source ciphertext in a linear step.
type gPart struct {
	src    int
	diags  map[int][]float64 // shift r ∈ [0,B) → length-B vector
	split  map[int][2]int    // r → (giant, baby), giant+baby ≡ r mod B
	babies []int
	giants []int
}

// graphPlan is a graph compiled to ciphertext values.
type graphPlan struct {
	block             int
	values            []*gValue
	out               int // index of the output value
	inDim             int
	outDim            int
	inShape, outShape []int
	ops               []PlanOp
	boot              *bootPlan // bootstrapped execution (bootstrap.go), or nil
}

// PlanOp describes one ciphertext step of a compiled graph (for reports).
type PlanOp struct {
	Kind      string `json:"kind"` // input, linear, square, rotsum
	Name      string `json:"name"` // graph nodes it covers
	Level     int    `json:"level"`
	Sources   []int  `json:"sources,omitempty"`
	Rotations int    `json:"rotations"`
	Products  int    `json:"plaintext_products"`
	Layout    string `json:"layout"`
	Depth     int    `json:"depth"`
	Shape     []int  `json:"shape,omitempty"`
	// Bootstrap: the step's output is bootstrapped (for its readers, or
	// one of them: see [Model.Bootstraps]).
	Bootstrap bool     `json:"bootstrap,omitempty"`
	Nodes     []string `json:"-"`
}

// lowerGraph compiles g (batch 1, one input, one output) for blocks of at
// most maxBlock positions.
func lowerGraph(g *graph.Graph, maxBlock int, multiplex bool) (*graphPlan, error) {
	if g == nil {
		return nil, errors.New("henn: nil graph")
	}
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return nil, fmt.Errorf("henn: the encrypted evaluator takes one input and one output; the graph has %d inputs and %d outputs", len(g.Inputs), len(g.Outputs))
	}
	in := g.Inputs[0]
	if len(in.Shape) < 2 || in.Shape[0] != 1 {
		return nil, fmt.Errorf("henn: input %q has shape %v; the encrypted evaluator wants a batch dimension of 1 first (N×… with N = 1)", in.Name, in.Shape)
	}
	// The input's elements take positions 0…n-1, so the block holds at
	// least n slots: refuse a wider input before anything input-sized is
	// allocated. A .henn file of a few hundred bytes may declare 2^28 input
	// elements; the dry pass below (and shape inference, for the ops it
	// runs on zeros) would then cost gigabytes (TestLowerGraphHugeInput).
	if n, err := graph.ShapeSize(in.Shape); err != nil {
		return nil, fmt.Errorf("henn: input %q: %w", in.Name, err)
	} else if n > maxBlock {
		return nil, fmt.Errorf("%w: the packing needs %d slots per input, the largest ring offers %d", ErrTooDeep, pow2(n), maxBlock)
	}
	shapes, err := g.InferShapes()
	if err != nil {
		return nil, err
	}
	lw := &lowering{g: g, shapes: shapes, vals: map[string]*pending{}, consts: map[string]*graph.Tensor{}, multiplex: multiplex}
	for k, t := range g.Initializers {
		lw.consts[k] = t
	}
	n := 1
	for _, d := range in.Shape[1:] {
		n *= d
	}
	lay := layout{n: n, pos: make([]int, n)}
	for i := range lay.pos {
		lay.pos[i] = i
	}
	if len(in.Shape) == 4 {
		lay.geom = &geometry{C: in.Shape[1], H: in.Shape[2], W: in.Shape[3], P: in.Shape[2] * in.Shape[3], Rs: in.Shape[3], Cs: 1, W0: in.Shape[3]}
	}
	lw.plane = n
	if lay.geom != nil {
		lw.plane = lay.geom.P
	}
	// A dry pass finds the largest position any value uses; the block is
	// the power of two above it, and the second pass builds the diagonals.
	lw.dry, lw.maxPos = true, n
	if err := lw.run(lay); err != nil {
		return nil, err
	}
	lw.block = pow2(lw.maxPos)
	if lw.block > maxBlock {
		return nil, fmt.Errorf("%w: the packing needs %d slots per input, the largest ring offers %d", ErrTooDeep, lw.block, maxBlock)
	}
	lw.dry = false
	if err := lw.run(lay); err != nil {
		return nil, err
	}
	return lw.plan, nil
}

func (lw *lowering) run(lay layout) error {
	g := lw.g
	in := g.Inputs[0]
	lw.vals = map[string]*pending{}
	lw.consts = map[string]*graph.Tensor{}
	lw.names = nil
	for k, t := range g.Initializers {
		lw.consts[k] = t
	}
	lw.plan = &graphPlan{block: lw.block, inDim: lay.n, inShape: append([]int(nil), in.Shape...)}
	lw.plan.values = append(lw.plan.values, &gValue{kind: gvInput, lay: lay, name: in.Name})
	lw.vals[in.Name] = lw.identity(0)
	for _, node := range g.Nodes {
		if err := lw.node(node); err != nil {
			return err
		}
	}
	outName := g.Outputs[0].Name
	p, ok := lw.vals[outName]
	if !ok {
		return fmt.Errorf("henn: output %q does not depend on the input", outName)
	}
	v, err := lw.materialize(p, outName, true)
	if err != nil {
		return err
	}
	lw.plan.out = v
	lw.plan.outDim = p.n
	lw.plan.outShape = append([]int(nil), lw.shapes[outName]...)
	return nil
}

type lowering struct {
	g      *graph.Graph
	shapes map[string][]int
	vals   map[string]*pending
	consts map[string]*graph.Tensor
	plan   *graphPlan
	block  int
	plane  int
	names  []string // graph nodes folded into the pending map (for reports)
	dry    bool     // first pass: only find maxPos
	maxPos int      // one past the largest position used
	// multiplex packs the channels of a gapped grid into its gaps.
	multiplex bool
}

func (lw *lowering) see(pos []int) {
	for _, p := range pos {
		lw.maxPos = max(lw.maxPos, p+1)
	}
}

func (lw *lowering) identity(v int) *pending {
	val := lw.plan.values[v]
	n := val.lay.n
	rows := make([][]term, n)
	for i := range rows {
		rows[i] = []term{{i, 1}}
	}
	p := &pending{n: n, parts: map[int][][]term{v: rows}, bias: make([]float64, n), geom: val.lay.geom}
	if val.lay.period == 0 {
		p.pos = append([]int(nil), val.lay.pos...)
	}
	return p
}

func nodeName(n *graph.Node) string {
	if n.Name != "" {
		return n.Name
	}
	if len(n.Outputs) > 0 {
		return n.Outputs[0]
	}
	return n.Op
}

func (lw *lowering) errf(n *graph.Node, format string, a ...any) error {
	return fmt.Errorf("henn: %s node %q: %s", n.Op, nodeName(n), fmt.Sprintf(format, a...))
}

// input returns the pending value or the constant of a node input.
func (lw *lowering) input(n *graph.Node, i int) (*pending, *graph.Tensor, error) {
	if i >= len(n.Inputs) || n.Inputs[i] == "" {
		return nil, nil, nil
	}
	name := n.Inputs[i]
	if p, ok := lw.vals[name]; ok {
		return p, nil, nil
	}
	if t, ok := lw.consts[name]; ok {
		return nil, t, nil
	}
	return nil, nil, lw.errf(n, "input %q is neither computed from the model input nor a constant", name)
}

func (lw *lowering) node(n *graph.Node) error {
	out := ""
	if len(n.Outputs) > 0 {
		out = n.Outputs[0]
	}
	// A node whose inputs are all constant is constant: evaluate it in
	// plaintext (Reshape targets, Shape arithmetic, Constant).
	allConst := true
	for _, in := range n.Inputs {
		if in == "" {
			continue
		}
		if _, ok := lw.vals[in]; ok {
			allConst = false
		}
	}
	if allConst {
		t, err := lw.constNode(n)
		if err != nil {
			return err
		}
		lw.consts[out] = t
		return nil
	}
	x, _, err := lw.input(n, 0)
	if err != nil {
		return err
	}
	lw.names = append(lw.names, nodeName(n))
	var res *pending
	switch n.Op {
	case "Identity", "Dropout", "Flatten", "Reshape", "Squeeze", "Unsqueeze":
		if x == nil {
			return lw.errf(n, "its data input must come from the model input")
		}
		res = x
		if n.Op != "Identity" && n.Op != "Dropout" {
			res = &pending{n: x.n, parts: x.parts, bias: x.bias, pos: x.pos}
			if s := lw.shapes[out]; len(s) == 4 && x.geom != nil {
				res.geom = x.geom
			}
		}
	case "Pad":
		// torch exports F.avg_pool2d as a zero Pad before AveragePool.
		_, pads, err := lw.input(n, 1)
		if err != nil {
			return err
		}
		if pads == nil {
			pads = &graph.Tensor{Data: toFloats(n.AttrInts("pads"))}
		}
		for _, p := range pads.Data {
			if p != 0 {
				return lw.errf(n, "nonzero padding is only lowered inside Conv")
			}
		}
		res = x
	case "Conv":
		res, err = lw.conv(n, x)
	case "BatchNormalization":
		res, err = lw.batchNorm(n, x)
	case "AveragePool", "GlobalAveragePool":
		res, err = lw.avgPool(n, x)
	case "Gemm", "MatMul":
		res, err = lw.gemm(n)
	case "Add", "Sub", "Mul", "Div":
		res, err = lw.arith(n)
	case graph.OpPoly:
		res, err = lw.poly(n, x)
	default:
		if graph.ActivationOps[n.Op] {
			return lw.errf(n, "the activation %s must be replaced by a polynomial first (krelu compile)", n.Op)
		}
		return lw.errf(n, "op %s has no encrypted lowering (supported: Conv, Gemm, MatMul, BatchNormalization, AveragePool, GlobalAveragePool, Add, Sub, Mul, Div by constants, residual Add, Flatten, Reshape, krelu.Poly)", n.Op)
	}
	if err != nil {
		return err
	}
	if res.n != numel(lw.shapes[out]) {
		return lw.errf(n, "internal shape mismatch: %d elements lowered, %d inferred", res.n, numel(lw.shapes[out]))
	}
	lw.vals[out] = res
	return nil
}

func numel(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// constNode evaluates a node on constant inputs with the graph runtime.
func (lw *lowering) constNode(n *graph.Node) (*graph.Tensor, error) {
	sub := &graph.Graph{Opset: lw.g.Opset, Initializers: map[string]*graph.Tensor{}, Nodes: []*graph.Node{n}}
	for _, in := range n.Inputs {
		if in != "" {
			sub.Initializers[in] = lw.consts[in]
		}
	}
	for _, o := range n.Outputs {
		if o != "" {
			sub.Outputs = append(sub.Outputs, graph.ValueInfo{Name: o})
		}
	}
	res, err := sub.Run(nil)
	if err != nil {
		return nil, err
	}
	return res[n.Outputs[0]], nil
}

// compose returns the map y_i = Σ_j m[i][j]·x_j + b_i applied to x.
func compose(x *pending, rows [][]term, b []float64) *pending {
	r := &pending{n: len(rows), parts: map[int][][]term{}, bias: make([]float64, len(rows))}
	for src, xr := range x.parts {
		out := make([][]term, len(rows))
		for i, row := range rows {
			acc := map[int]float64{}
			for _, t := range row {
				for _, u := range xr[t.j] {
					acc[u.j] += t.w * u.w
				}
			}
			out[i] = sortedTerms(acc)
		}
		r.parts[src] = out
	}
	for i, row := range rows {
		s := 0.0
		if b != nil {
			s = b[i]
		}
		for _, t := range row {
			s += t.w * x.bias[t.j]
		}
		r.bias[i] = s
	}
	return r
}

func sortedTerms(acc map[int]float64) []term {
	out := make([]term, 0, len(acc))
	for j, w := range acc {
		if w != 0 {
			out = append(out, term{j, w})
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].j < out[b].j })
	return out
}

// scalarOf reports whether p is α·z + β of a single ciphertext value z
// (element i from element i), with one α for all elements.
func (p *pending) scalarOf(vals []*gValue) (src int, alpha float64, ok bool) {
	if len(p.parts) != 1 {
		return 0, 0, false
	}
	for s, rows := range p.parts {
		if vals[s].lay.n != p.n {
			return 0, 0, false
		}
		for i, r := range rows {
			if len(r) != 1 || r[0].j != i || (i > 0 && r[0].w != alpha) {
				return 0, 0, false
			}
			alpha = r[0].w
		}
		return s, alpha, true
	}
	return 0, 0, false
}

func toFloats(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func ints(v []int64) []int {
	if len(v) == 0 {
		return nil
	}
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func (lw *lowering) conv(n *graph.Node, x *pending) (*pending, error) {
	_, w, err := lw.input(n, 1)
	if err != nil {
		return nil, err
	}
	if x == nil || w == nil {
		return nil, lw.errf(n, "needs the data from the model input and constant weights")
	}
	_, b, err := lw.input(n, 2)
	if err != nil {
		return nil, err
	}
	if x.geom == nil || len(w.Shape) != 4 {
		return nil, lw.errf(n, "only 2-D convolutions of N×C×H×W tensors are lowered")
	}
	in := x.geom
	cout, cpg, kh, kw := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	group := int(n.AttrInt("group", 1))
	strides := ints(n.AttrInts("strides"))
	if strides == nil {
		strides = []int{1, 1}
	}
	dil := ints(n.AttrInts("dilations"))
	if dil == nil {
		dil = []int{1, 1}
	}
	pads := ints(n.AttrInts("pads"))
	if pads == nil {
		pads = []int{0, 0, 0, 0}
	}
	if ap := n.AttrString("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return nil, lw.errf(n, "auto_pad %s is not lowered; export with explicit pads", ap)
	}
	if group < 1 || in.C != cpg*group || cout%group != 0 {
		return nil, lw.errf(n, "channels %d, weight %v and group %d do not match", in.C, w.Shape, group)
	}
	os := lw.shapes[n.Outputs[0]]
	ho, wo := os[2], os[3]
	sy, sx := strides[0], strides[1]
	if (ho-1)*sy >= in.H || (wo-1)*sx >= in.W {
		return nil, lw.errf(n, "padding larger than the kernel's reach is not lowered (output %d×%d from %d×%d)", ho, wo, in.H, in.W)
	}
	rows := make([][]term, cout*ho*wo)
	bias := make([]float64, len(rows))
	opg := cout / group
	for o := 0; o < cout; o++ {
		g0 := (o / opg) * cpg
		for y := 0; y < ho; y++ {
			for xx := 0; xx < wo; xx++ {
				i := (o*ho+y)*wo + xx
				var row []term
				for c := 0; c < cpg; c++ {
					for dy := 0; dy < kh; dy++ {
						iy := y*sy + dy*dil[0] - pads[0]
						if iy < 0 || iy >= in.H {
							continue
						}
						for dx := 0; dx < kw; dx++ {
							ix := xx*sx + dx*dil[1] - pads[1]
							if ix < 0 || ix >= in.W {
								continue
							}
							wv := w.Data[((o*cpg+c)*kh+dy)*kw+dx]
							if wv != 0 {
								row = append(row, term{((g0+c)*in.H+iy)*in.W + ix, wv})
							}
						}
					}
				}
				rows[i] = row
				if b != nil {
					bias[i] = b.Data[o]
				}
			}
		}
	}
	r := compose(x, rows, bias)
	r.geom = &geometry{C: cout, H: ho, W: wo, P: in.P, Rs: in.Rs * sy, Cs: in.Cs * sx, Base: in.Base, W0: in.W0}
	// Multiplexing (Lee et al. 2022): on a grid with gaps (gy rows,
	// gx columns) gx·gy output channels share one plane, channel o at the
	// sub-grid offset (a, b) = ((o mod m) / gx, (o mod m) mod gx).
	if gx, gy := r.geom.Cs, r.geom.Rs/max(in.W0, 1); lw.multiplex && gx*gy > 1 && r.geom.Rs%max(in.W0, 1) == 0 &&
		(ho-1)*r.geom.Rs+(gy-1)*in.W0+(wo-1)*r.geom.Cs+gx-1 < in.P {
		m := gx * gy
		base := in.off(0)
		r.geom.Off = make([]int, cout)
		for o := range r.geom.Off {
			k := o % m
			r.geom.Off[o] = base + (o/m)*in.P + (k/gx)*in.W0 + k%gx
		}
	}
	r.pos = r.geom.positions()
	return r, nil
}

func (lw *lowering) batchNorm(n *graph.Node, x *pending) (*pending, error) {
	var t [4]*graph.Tensor
	for i := range t {
		_, c, err := lw.input(n, i+1)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, lw.errf(n, "scale, bias, mean and variance must be constants")
		}
		t[i] = c
	}
	s := lw.shapes[n.Inputs[0]]
	if x == nil || len(s) < 2 {
		return nil, lw.errf(n, "needs an N×C×… input")
	}
	eps := n.AttrFloat("epsilon", 1e-5)
	C := s[1]
	inner := x.n / C
	rows := make([][]term, x.n)
	bias := make([]float64, x.n)
	for c := 0; c < C; c++ {
		a := t[0].Data[c] / math.Sqrt(t[3].Data[c]+eps)
		bb := t[1].Data[c] - a*t[2].Data[c]
		for k := 0; k < inner; k++ {
			i := c*inner + k
			rows[i] = []term{{i, a}}
			bias[i] = bb
		}
	}
	r := compose(x, rows, bias)
	r.geom, r.pos = x.geom, x.pos
	return r, nil
}

func (lw *lowering) avgPool(n *graph.Node, x *pending) (*pending, error) {
	if x == nil || x.geom == nil {
		return nil, lw.errf(n, "needs an N×C×H×W input")
	}
	in := x.geom
	var kh, kw, sy, sx int
	var pads []int
	if n.Op == "GlobalAveragePool" {
		kh, kw, sy, sx = in.H, in.W, 1, 1
	} else {
		k := ints(n.AttrInts("kernel_shape"))
		if len(k) != 2 {
			return nil, lw.errf(n, "only 2-D pooling is lowered")
		}
		kh, kw = k[0], k[1]
		s := ints(n.AttrInts("strides"))
		if s == nil {
			s = []int{1, 1}
		}
		sy, sx = s[0], s[1]
		pads = ints(n.AttrInts("pads"))
		if n.AttrInt("ceil_mode", 0) != 0 {
			return nil, lw.errf(n, "ceil_mode is not lowered")
		}
	}
	for _, p := range pads {
		if p != 0 {
			return nil, lw.errf(n, "padded pooling is not lowered; use pads 0")
		}
	}
	os := lw.shapes[n.Outputs[0]]
	ho, wo := os[2], os[3]
	geom := &geometry{C: in.C, H: ho, W: wo, P: in.P, Rs: in.Rs * sy, Cs: in.Cs * sx, Base: in.Base, W0: in.W0, Off: in.Off}
	inv := 1 / float64(kh*kw)
	// Free form: after an activation the input is α·z+β of one
	// ciphertext z; sum z's windows by rotations, no level.
	if src, alpha, ok := x.scalarOf(lw.plan.values); ok && lw.plan.values[src].lay.period == 0 {
		var steps [][]int
		if kw > 1 {
			st := make([]int, kw)
			for d := range st {
				st[d] = d * in.Cs
			}
			steps = append(steps, st)
		}
		if kh > 1 {
			st := make([]int, kh)
			for d := range st {
				st[d] = d * in.Rs
			}
			steps = append(steps, st)
		}
		v := &gValue{kind: gvRotSum, src: src, steps: steps, depth: lw.plan.values[src].depth,
			lay: layout{n: in.C * ho * wo, pos: geom.positions(), geom: geom}, name: nodeName(n)}
		lw.see(v.lay.pos)
		lw.plan.values = append(lw.plan.values, v)
		id := len(lw.plan.values) - 1
		p := lw.identity(id)
		for _, r := range p.parts[id] {
			r[0].w = alpha * inv
		}
		// The constant β is pooled in plaintext.
		for c := 0; c < in.C; c++ {
			for y := 0; y < ho; y++ {
				for xx := 0; xx < wo; xx++ {
					s := 0.0
					for dy := 0; dy < kh; dy++ {
						for dx := 0; dx < kw; dx++ {
							s += x.bias[(c*in.H+y*sy+dy)*in.W+xx*sx+dx]
						}
					}
					p.bias[(c*ho+y)*wo+xx] = s * inv
				}
			}
		}
		return p, nil
	}
	rows := make([][]term, in.C*ho*wo)
	for c := 0; c < in.C; c++ {
		for y := 0; y < ho; y++ {
			for xx := 0; xx < wo; xx++ {
				var row []term
				for dy := 0; dy < kh; dy++ {
					for dx := 0; dx < kw; dx++ {
						row = append(row, term{(c*in.H+y*sy+dy)*in.W + xx*sx + dx, inv})
					}
				}
				rows[(c*ho+y)*wo+xx] = row
			}
		}
	}
	r := compose(x, rows, nil)
	r.geom = geom
	r.pos = geom.positions()
	return r, nil
}

func (lw *lowering) gemm(n *graph.Node) (*pending, error) {
	a, _, err := lw.input(n, 0)
	if err != nil {
		return nil, err
	}
	_, w, err := lw.input(n, 1)
	if err != nil {
		return nil, err
	}
	if a == nil || w == nil || len(w.Shape) != 2 {
		return nil, lw.errf(n, "only data × constant 2-D weight is lowered")
	}
	as := lw.shapes[n.Inputs[0]]
	if len(as) != 2 || as[0] != 1 {
		return nil, lw.errf(n, "input shape %v: want 1×K", as)
	}
	alpha, beta := 1.0, 1.0
	transA, transB := int64(0), int64(0)
	if n.Op == "Gemm" {
		alpha, beta = n.AttrFloat("alpha", 1), n.AttrFloat("beta", 1)
		transA, transB = n.AttrInt("transA", 0), n.AttrInt("transB", 0)
	}
	if transA != 0 {
		return nil, lw.errf(n, "transA is not lowered")
	}
	K := as[1]
	var N int
	wt := func(k, j int) float64 { return w.Data[k*w.Shape[1]+j] }
	if transB != 0 {
		N = w.Shape[0]
		wt = func(k, j int) float64 { return w.Data[j*w.Shape[1]+k] }
		if w.Shape[1] != K {
			return nil, lw.errf(n, "weight %v does not take %d inputs", w.Shape, K)
		}
	} else {
		N = w.Shape[1]
		if w.Shape[0] != K {
			return nil, lw.errf(n, "weight %v does not take %d inputs", w.Shape, K)
		}
	}
	rows := make([][]term, N)
	for j := range rows {
		for k := 0; k < K; k++ {
			if v := alpha * wt(k, j); v != 0 {
				rows[j] = append(rows[j], term{k, v})
			}
		}
	}
	bias := make([]float64, N)
	if n.Op == "Gemm" {
		_, c, err := lw.input(n, 2)
		if err != nil {
			return nil, err
		}
		if c != nil {
			bc, err := broadcastTo(c, []int{1, N})
			if err != nil {
				return nil, lw.errf(n, "bias: %v", err)
			}
			for j := range bias {
				bias[j] = beta * bc[j]
			}
		}
	}
	return compose(a, rows, bias), nil
}

// broadcastTo expands t to shape (NumPy broadcasting) and returns the data.
func broadcastTo(t *graph.Tensor, shape []int) ([]float64, error) {
	if len(t.Shape) > len(shape) {
		return nil, fmt.Errorf("constant of shape %v does not broadcast to %v", t.Shape, shape)
	}
	off := len(shape) - len(t.Shape)
	for i, d := range t.Shape {
		if d != 1 && d != shape[off+i] {
			return nil, fmt.Errorf("constant of shape %v does not broadcast to %v", t.Shape, shape)
		}
	}
	n := numel(shape)
	out := make([]float64, n)
	idx := make([]int, len(shape))
	for k := 0; k < n; k++ {
		r := k
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d] = r % shape[d]
			r /= shape[d]
		}
		src := 0
		for i, d := range t.Shape {
			c := idx[off+i]
			if d == 1 {
				c = 0
			}
			src = src*d + c
		}
		out[k] = t.Data[src]
	}
	return out, nil
}

func (lw *lowering) arith(n *graph.Node) (*pending, error) {
	a, ca, err := lw.input(n, 0)
	if err != nil {
		return nil, err
	}
	b, cb, err := lw.input(n, 1)
	if err != nil {
		return nil, err
	}
	shape := lw.shapes[n.Outputs[0]]
	if a != nil && b != nil {
		if n.Op != "Add" && n.Op != "Sub" {
			return nil, lw.errf(n, "%s of two encrypted values needs a ciphertext product; only Add and Sub of two branches are lowered", n.Op)
		}
		if a.n != b.n {
			return nil, lw.errf(n, "branches of %d and %d elements (broadcasting two encrypted values is not lowered)", a.n, b.n)
		}
		sign := 1.0
		if n.Op == "Sub" {
			sign = -1
		}
		r := &pending{n: a.n, parts: map[int][][]term{}, bias: make([]float64, a.n)}
		for src, rows := range a.parts {
			r.parts[src] = rows
		}
		for src, rows := range b.parts {
			mine := r.parts[src]
			out := make([][]term, a.n)
			for i := range out {
				acc := map[int]float64{}
				if mine != nil {
					for _, t := range mine[i] {
						acc[t.j] += t.w
					}
				}
				for _, t := range rows[i] {
					acc[t.j] += sign * t.w
				}
				out[i] = sortedTerms(acc)
			}
			r.parts[src] = out
		}
		for i := range r.bias {
			r.bias[i] = a.bias[i] + sign*b.bias[i]
		}
		// Any placement of the sum works: the materialized step computes
		// its diagonals from it. Keep the more compact one.
		switch {
		case a.pos != nil && (b.pos == nil || maxInt(a.pos) <= maxInt(b.pos)):
			r.pos, r.geom = a.pos, a.geom
		case b.pos != nil && a.pos == nil:
		case b.pos != nil:
			r.pos, r.geom = b.pos, b.geom
		}
		if a.pos == nil || b.pos == nil {
			r.pos, r.geom = nil, nil
		}
		return r, nil
	}
	x, c, first := a, cb, true
	if x == nil {
		x, c, first = b, ca, false
	}
	if numel(shape) != x.n {
		return nil, lw.errf(n, "broadcasting the encrypted operand is not lowered")
	}
	cv, err := broadcastTo(c, shape)
	if err != nil {
		return nil, lw.errf(n, "%v", err)
	}
	rows := make([][]term, x.n)
	bias := make([]float64, x.n)
	for i := range rows {
		switch {
		case n.Op == "Add":
			rows[i], bias[i] = []term{{i, 1}}, cv[i]
		case n.Op == "Sub" && first:
			rows[i], bias[i] = []term{{i, 1}}, -cv[i]
		case n.Op == "Sub":
			rows[i], bias[i] = []term{{i, -1}}, cv[i]
		case n.Op == "Mul":
			rows[i] = []term{{i, cv[i]}}
		case n.Op == "Div" && first:
			if cv[i] == 0 {
				return nil, lw.errf(n, "division by zero")
			}
			rows[i] = []term{{i, 1 / cv[i]}}
		default:
			return nil, lw.errf(n, "division by an encrypted value is not lowered")
		}
	}
	r := compose(x, rows, bias)
	r.pos, r.geom = x.pos, x.geom
	return r, nil
}

func maxInt(v []int) int {
	m := math.MinInt
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func (lw *lowering) poly(n *graph.Node, x *pending) (*pending, error) {
	c := n.AttrFloats("coefficients")
	for len(c) > 1 && c[len(c)-1] == 0 {
		c = c[:len(c)-1]
	}
	if len(c) == 0 {
		return nil, lw.errf(n, "no coefficients")
	}
	affine := func(c1, c0 float64) *pending {
		rows := make([][]term, x.n)
		bias := make([]float64, x.n)
		for i := range rows {
			rows[i], bias[i] = []term{{i, c1}}, c0
		}
		r := compose(x, rows, bias)
		r.pos, r.geom = x.pos, x.geom
		return r
	}
	switch len(c) {
	case 1:
		return affine(0, c[0]), nil
	case 2:
		return affine(c[1], c[0]), nil
	case 3:
	default:
		return nil, lw.errf(n, "activation of degree %d needs %d levels; the encrypted evaluator takes degree ≤ 2 (one level) — compile with --degree 2", len(c)-1, depthOf(len(c)-1))
	}
	c0, c1, c2 := c[0], c[1], c[2]
	t := c1 / (2 * c2)
	e := c0 - c1*c1/(4*c2)
	shifted := affine(1, t)
	lv, err := lw.materialize(shifted, nodeName(n), false)
	if err != nil {
		return nil, err
	}
	src := lw.plan.values[lv]
	sq := &gValue{kind: gvSquare, src: lv, lay: src.lay, depth: src.depth + 1, name: nodeName(n)}
	lw.plan.values = append(lw.plan.values, sq)
	id := len(lw.plan.values) - 1
	r := lw.identity(id)
	for i, row := range r.parts[id] {
		row[0].w = c2
		r.bias[i] = e
	}
	return r, nil
}

// materialize turns p into a ciphertext step (one level) and returns the
// index of the new value. out asks for the compact layout the client
// decodes (element i at position i).
func (lw *lowering) materialize(p *pending, name string, out bool) (int, error) {
	B := lw.block
	vals := lw.plan.values
	depth := 0
	for src := range p.parts {
		depth = max(depth, vals[src].depth+1)
	}
	if len(p.parts) == 0 {
		return 0, fmt.Errorf("henn: %s does not depend on the model input", name)
	}
	srcs := make([]int, 0, len(p.parts))
	for s := range p.parts {
		srcs = append(srcs, s)
	}
	sort.Ints(srcs)
	if lw.dry {
		pb := pow2(p.n)
		lw.maxPos = max(lw.maxPos, pb)
		lay := layout{n: p.n, period: pb}
		if p.pos != nil && !out {
			lw.see(p.pos)
			lay = layout{n: p.n, pos: p.pos, geom: p.geom}
		}
		lw.plan.values = append(lw.plan.values, &gValue{kind: gvLinear, lay: lay, depth: depth, name: name})
		return len(lw.plan.values) - 1, nil
	}
	// Natural layout: outputs where the geometry put them.
	var natural *gLinear
	natCount := math.MaxInt
	if p.pos != nil && !out {
		natural = &gLinear{bias: make([]float64, B)}
		natCount = 0
		for _, s := range srcs {
			part := &gPart{src: s, diags: map[int][]float64{}}
			for i, row := range p.parts[s] {
				po := p.pos[i]
				for _, t := range row {
					r := mod(vals[s].lay.at(t.j)-po, B)
					d := part.diags[r]
					if d == nil {
						d = make([]float64, B)
						part.diags[r] = d
					}
					d[po] += t.w
				}
			}
			natCount += len(part.diags)
			natural.parts = append(natural.parts, part)
		}
		for i, b := range p.bias {
			natural.bias[p.pos[i]] = b
		}
	}
	pb := pow2(p.n)
	lin := natural
	lay := layout{n: p.n, pos: p.pos, geom: p.geom}
	if natural == nil || (natCount > pb && !forceNatural) {
		lin = lw.hybrid(p, srcs, pb)
		lay = layout{n: p.n, period: pb}
	}
	for _, part := range lin.parts {
		lw.split(part)
	}
	if len(lw.names) > 0 {
		name = strings.Join(lw.names, "+")
		lw.names = nil
	}
	v := &gValue{kind: gvLinear, lin: lin, lay: lay, depth: depth, name: name}
	lw.plan.values = append(lw.plan.values, v)
	return len(lw.plan.values) - 1, nil
}

// forceNatural (tests) keeps natural layouts even where the hybrid form
// would need fewer diagonals, so small test graphs exercise them.
var forceNatural = false

func mod(a, m int) int { return ((a % m) + m) % m }

// hybrid builds GAZELLE's hybrid diagonals for an output tiled with period
// pb: from sources tiled with one common period pa (the usual dense chain)
// within that period, otherwise over the scattered canonical positions of
// the sources, followed by rotate-and-add steps up to the block.
func (lw *lowering) hybrid(p *pending, srcs []int, pb int) *gLinear {
	B := lw.block
	vals := lw.plan.values
	pa := vals[srcs[0]].lay.period
	for _, s := range srcs {
		if vals[s].lay.period != pa {
			pa = 0
		}
	}
	lin := &gLinear{bias: make([]float64, B)}
	put := func(part *gPart, r, p0, period int, w float64) {
		d := part.diags[r]
		if d == nil {
			d = make([]float64, B)
			part.diags[r] = d
		}
		for q := p0; q < B; q += period {
			d[q] += w
		}
	}
	for _, s := range srcs {
		part := &gPart{src: s, diags: map[int][]float64{}}
		for i, row := range p.parts[s] {
			for _, t := range row {
				switch {
				case pa > 0 && pb <= pa: // wide
					k := mod(t.j-i, pb)
					put(part, k, mod(t.j-k, pa), pa, t.w)
				case pa > 0: // tall
					put(part, mod(t.j-i, pa), i, pb, t.w)
				default:
					q := vals[s].lay.at(t.j)
					r := mod(q-i, pb)
					put(part, r, mod(q-r, B), B, t.w)
				}
			}
		}
		lin.parts = append(lin.parts, part)
	}
	top := B
	if pa > 0 {
		top = max(pa, pb)
	}
	for st := pb; st < top; st <<= 1 {
		lin.sum = append(lin.sum, st)
	}
	for q := 0; q < B; q++ {
		if i := q % pb; i < p.n {
			lin.bias[q] = p.bias[i]
		}
	}
	return lin
}

// split chooses the baby-step/giant-step decomposition of a part's shifts:
// by powers of two (the dense maps) or by planes of P positions (the
// convolutions: kernel offsets as baby steps, channel offsets as giant
// steps), whichever needs fewer rotations (hoisted baby steps counted 0.6).
func (lw *lowering) split(part *gPart) {
	B, P := lw.block, lw.plane
	ks := make([]int, 0, len(part.diags))
	for r := range part.diags {
		ks = append(ks, r)
	}
	sort.Ints(ks)
	cost := func(sp map[int][2]int) float64 {
		b, g := map[int]bool{}, map[int]bool{}
		for _, x := range sp {
			g[x[0]], b[x[1]] = true, true
		}
		c := 0.6*float64(len(b)) + float64(len(g))
		if b[0] {
			c -= 0.6
		}
		if g[0] {
			c--
		}
		return c
	}
	n1, _, _ := bsgsSplit(ks, B)
	best := map[int][2]int{}
	for _, r := range ks {
		best[r] = [2]int{r - r%n1, r % n1}
	}
	if P > 1 {
		plane := map[int][2]int{}
		for _, r := range ks {
			s := r
			if s > B/2 {
				s -= B
			}
			g := int(math.Round(float64(s)/float64(P))) * P
			plane[r] = [2]int{mod(g, B), mod(s-g, B)}
		}
		if cost(plane) < cost(best) {
			best = plane
		}
	}
	part.split = best
	b, g := map[int]bool{}, map[int]bool{}
	for _, x := range best {
		g[x[0]], b[x[1]] = true, true
	}
	part.babies, part.giants = sortedKeys(b), sortedKeys(g)
}
