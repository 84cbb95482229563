package graph

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// DType is the element type a graph input declares. Values always travel
// as float64; the declared type says what a caller may feed (integer
// inputs must hold integral values) and what an exporter writes back.
type DType int

// Element types krelu graphs accept.
const (
	Float32 DType = iota + 1
	Float64
	Float16
	BFloat16
	Int64
	Int32
)

var dtypeNames = map[DType]string{
	Float32: "float32", Float64: "float64", Float16: "float16", BFloat16: "bfloat16",
	Int64: "int64", Int32: "int32",
}

func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("DType(%d)", int(d))
}

// IsInt reports whether d is an integer type.
func (d DType) IsInt() bool { return d == Int64 || d == Int32 }

// IsFloat reports whether d is a floating-point type.
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 || d == Float16 || d == BFloat16 }

// ValueInfo names a graph input or output with its static shape and type.
// Every input dimension is fixed (non-negative); readers must resolve
// symbolic dimensions (e.g. the batch size) before building a Graph. An
// output's Shape is informational — the shape its file declared, or nil;
// InferShapes computes the real one.
type ValueInfo struct {
	Name  string
	Shape []int
	DType DType
}

// AttrKind tells which field of an Attr is set.
type AttrKind int

// Attribute kinds, following ONNX's AttributeProto.
const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrString
	AttrInts
	AttrFloats
	AttrStrings
	AttrTensor
)

// Attr is a typed node attribute.
type Attr struct {
	Kind    AttrKind
	Int     int64
	Float   float64
	String  string
	Ints    []int64
	Floats  []float64
	Strings []string
	Tensor  *Tensor
}

// Node is one operation. Op is the ONNX operator type for the default
// domain ("Conv", "Relu", …) or "domain.Op" for others (OpPoly). An empty
// string in Inputs marks an omitted optional input.
type Node struct {
	Op      string
	Name    string
	Inputs  []string
	Outputs []string
	Attrs   map[string]Attr
}

// Graph is krelu's model IR: a static-shape dataflow graph in topological
// order. Initializers are constant tensors (weights); every other value is
// produced by a node or fed as an input.
type Graph struct {
	Name string
	// Opset is the version of the default ONNX operator set the node
	// semantics follow (e.g. Softmax's axis handling changed at 13). Zero
	// means the newest supported.
	Opset        int
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	Initializers map[string]*Tensor
	Nodes        []*Node
}

// OpPoly is krelu's polynomial activation: y = Σ_k coefficients[k]·x^k,
// elementwise, evaluated by Horner's rule. Attribute "coefficients"
// (floats, ascending powers, at least one) is required; the optional
// floats attribute "interval" [lo, hi] records the calibrated input range
// the polynomial was fitted on, and the optional string "method" the fit
// ("kernel", "direct", …). The calibrate/rewrite layer inserts it in place
// of ReLU, following "Kernel-Based ReLU Approximation for Homomorphic
// Encryption-Compatible Privacy-preserving Deep Learning Models"
// (arXiv 2605.23641).
const OpPoly = "krelu.Poly"

// ActivationOps lists the nonlinear elementwise ops an HE compiler must
// replace by polynomials.
var ActivationOps = map[string]bool{
	"Relu": true, "Sigmoid": true, "Tanh": true, "Erf": true, "Gelu": true,
}

// AttrInt returns the integer attribute name, or def if absent.
func (n *Node) AttrInt(name string, def int64) int64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrInt {
		return a.Int
	}
	return def
}

// AttrFloat returns the float attribute name, or def if absent.
func (n *Node) AttrFloat(name string, def float64) float64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrFloat {
		return a.Float
	}
	return def
}

// AttrString returns the string attribute name, or def if absent.
func (n *Node) AttrString(name, def string) string {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrString {
		return a.String
	}
	return def
}

// AttrInts returns the ints attribute name, or nil if absent.
func (n *Node) AttrInts(name string) []int64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrInts {
		return a.Ints
	}
	return nil
}

// AttrFloats returns the floats attribute name, or nil if absent.
func (n *Node) AttrFloats(name string) []float64 {
	if a, ok := n.Attrs[name]; ok && a.Kind == AttrFloats {
		return a.Floats
	}
	return nil
}

// HasAttr reports whether the node carries attribute name.
func (n *Node) HasAttr(name string) bool { _, ok := n.Attrs[name]; return ok }

// label names the node in errors: its name if set, else its first output.
func (n *Node) label() string {
	if n.Name != "" {
		return fmt.Sprintf("%q", n.Name)
	}
	if len(n.Outputs) > 0 {
		return fmt.Sprintf("producing %q", n.Outputs[0])
	}
	return "(unnamed)"
}

// nodeErr wraps an error with the node's op and name.
func nodeErr(n *Node, format string, args ...any) error {
	return fmt.Errorf("graph: %s node %s: %s", n.Op, n.label(), fmt.Sprintf(format, args...))
}

// Supported reports whether the runtime implements op.
func Supported(op string) bool { _, ok := ops[op]; return ok }

// SupportedOps returns the implemented op types, sorted.
func SupportedOps() []string {
	out := make([]string, 0, len(ops))
	for k := range ops {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrUnsupported is wrapped by errors about an attribute value or mode
// of an implemented op that the runtime deliberately does not handle
// (training-mode Dropout, casts to types it cannot represent, …).
var ErrUnsupported = errors.New("not supported")

// UnsupportedError reports an op the runtime does not implement.
type UnsupportedError struct {
	Op, Node string
}

func (e *UnsupportedError) Error() string {
	msg := fmt.Sprintf("graph: unsupported op %s (node %q)", e.Op, e.Node)
	switch e.Op {
	case "MaxPool", "GlobalMaxPool":
		msg += "; max pooling has no low-degree polynomial form under CKKS — retrain with AveragePool (nn.AvgPool2d)"
	}
	return msg
}

// Validate checks that the graph is well formed: unique value names, every
// node input defined before use, outputs produced, ops supported, static
// non-negative shapes. It does not run the graph.
func (g *Graph) Validate() error {
	defined := map[string]bool{}
	for name, t := range g.Initializers {
		if err := t.check(); err != nil {
			return fmt.Errorf("graph: initializer %q: %v", name, err)
		}
		defined[name] = true
	}
	for _, in := range g.Inputs {
		if in.Name == "" {
			return fmt.Errorf("graph: input with an empty name")
		}
		if _, err := ShapeSize(in.Shape); err != nil {
			return fmt.Errorf("graph: input %q: %v", in.Name, err)
		}
		if _, ok := dtypeNames[in.DType]; !ok {
			return fmt.Errorf("graph: input %q has no supported element type", in.Name)
		}
		defined[in.Name] = true
	}
	for _, n := range g.Nodes {
		if _, ok := ops[n.Op]; !ok {
			return &UnsupportedError{Op: n.Op, Node: n.Name}
		}
		for k, a := range n.Attrs {
			if a.Kind == AttrTensor {
				if err := a.Tensor.check(); err != nil {
					return nodeErr(n, "attribute %s: %v", k, err)
				}
			}
		}
		for _, in := range n.Inputs {
			if in != "" && !defined[in] {
				return nodeErr(n, "input %q is not defined by an earlier node, an input or an initializer", in)
			}
		}
		for _, out := range n.Outputs {
			if out == "" {
				continue
			}
			if defined[out] {
				return nodeErr(n, "output %q is defined twice", out)
			}
			defined[out] = true
		}
	}
	if len(g.Outputs) == 0 {
		return fmt.Errorf("graph: no outputs")
	}
	for _, out := range g.Outputs {
		if !defined[out.Name] {
			return fmt.Errorf("graph: output %q is not produced by any node", out.Name)
		}
	}
	return nil
}

// Input returns the graph input called name.
func (g *Graph) Input(name string) (ValueInfo, bool) {
	for _, in := range g.Inputs {
		if in.Name == name {
			return in, true
		}
	}
	return ValueInfo{}, false
}

// Producer returns the node producing value name, or nil.
func (g *Graph) Producer(name string) *Node {
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == name {
				return n
			}
		}
	}
	return nil
}

// Consumers returns the nodes reading value name, in graph order.
func (g *Graph) Consumers(name string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == name {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// Clone returns a deep copy of the graph structure. Initializer tensors are
// shared (they are never mutated by the runtime); node attribute maps are
// copied.
func (g *Graph) Clone() *Graph {
	c := &Graph{Name: g.Name, Opset: g.Opset, Initializers: map[string]*Tensor{}}
	for _, v := range g.Inputs {
		v.Shape = append([]int(nil), v.Shape...)
		c.Inputs = append(c.Inputs, v)
	}
	for _, v := range g.Outputs {
		v.Shape = append([]int(nil), v.Shape...)
		c.Outputs = append(c.Outputs, v)
	}
	for k, v := range g.Initializers {
		c.Initializers[k] = v
	}
	for _, n := range g.Nodes {
		m := &Node{Op: n.Op, Name: n.Name, Inputs: append([]string(nil), n.Inputs...),
			Outputs: append([]string(nil), n.Outputs...), Attrs: map[string]Attr{}}
		for k, a := range n.Attrs {
			m.Attrs[k] = a
		}
		c.Nodes = append(c.Nodes, m)
	}
	return c
}

func shapeString(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(parts, "×") + "]"
}
