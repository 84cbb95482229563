package onnx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/krelu/krelu/format"
	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx/internal/onnxpb"
)

// Supported range of the default ("ai.onnx") operator set. Opsets 6–8 are
// read because ONNX's converted PyTorch conformance models use them; the
// legacy semantics of the implemented ops (Add's broadcast/axis
// attributes, Softmax's 2-D coercion, Squeeze's axes attribute) are
// honoured. Older models are read only if every op is one whose meaning
// has not changed since opset 1.
const (
	MinOpset = 6
	MaxOpset = 18
)

// MaxFileSize bounds what ReadFile loads (protobuf itself caps messages at
// 2 GiB).
const MaxFileSize = 1 << 31

// ErrFormat is wrapped by errors about data that is not a valid ONNX model
// or tensor.
var ErrFormat = errors.New("onnx: invalid model")

// ErrUnsupported is wrapped by errors about valid ONNX content krelu does
// not handle (types, external data, opsets, control flow). Unsupported
// operators are reported as *graph.UnsupportedError.
var ErrUnsupported = errors.New("onnx: unsupported")

// Options fix what the file leaves open.
type Options struct {
	// Dims gives values to symbolic dimensions (dim_param), e.g.
	// {"batch": 1}.
	Dims map[string]int
	// Batch, if positive, fixes a symbolic or unknown first dimension of
	// every input.
	Batch int
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

func unsupportedErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// ReadFile reads an ONNX model file into a graph.
func ReadFile(path string, opt Options) (*graph.Graph, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > MaxFileSize {
		return nil, unsupportedErr("%s is %d bytes; models above 2 GiB need external data, which krelu does not read", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g, err := Read(data, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, nil
}

// Read parses a serialized ModelProto and converts it to a graph: inputs
// with fixed shapes (see Options), initializers and Constant tensors as
// float64, nodes in file order (ONNX requires topological order). The
// graph is validated: every op must be implemented by package graph.
func Read(data []byte, opt Options) (*graph.Graph, error) {
	for k, v := range opt.Dims {
		if v < 1 {
			return nil, fmt.Errorf("onnx: dimension %q fixed to %d, must be ≥ 1", k, v)
		}
	}
	if opt.Batch < 0 {
		return nil, fmt.Errorf("onnx: batch %d must be ≥ 1 (or 0 to leave it unset)", opt.Batch)
	}
	if len(data) == 0 {
		return nil, formatErr("empty file")
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return nil, formatErr("not an ONNX protobuf file (truncated or corrupt: the protobuf decoder failed)")
	}
	if m.GetIrVersion() <= 0 || m.GetGraph() == nil {
		return nil, formatErr("no ir_version or no graph: not an ONNX model")
	}
	opset := 0
	for _, o := range m.GetOpsetImport() {
		if o.GetDomain() == "" || o.GetDomain() == "ai.onnx" {
			opset = int(o.GetVersion())
		}
	}
	if opset == 0 && len(m.GetOpsetImport()) == 0 && m.GetIrVersion() < 3 {
		opset = 1 // IR versions 1–2 predate opset_import
	}
	switch {
	case opset == 0:
		for _, n := range m.GetGraph().GetNode() {
			if d := n.GetDomain(); d == "" || d == "ai.onnx" {
				return nil, formatErr("node %q uses the default operator set, which the model does not import (opset_import)", n.GetName())
			}
		}
		opset = MaxOpset
	case opset > MaxOpset || opset < 1 || (opset < MinOpset && !legacyOK(m.GetGraph())):
		return nil, unsupportedErr("default opset %d is outside the supported range %d–%d", opset, MinOpset, MaxOpset)
	}
	g, err := convertGraph(m.GetGraph(), opt)
	if err != nil {
		return nil, err
	}
	g.Opset = opset
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// unchangedSince1 lists implemented ops whose semantics have not changed
// (beyond added element types) since opset 1, so a model of opset 1–5
// using only them is read.
var unchangedSince1 = map[string]bool{
	"GlobalAveragePool": true, "MatMul": true, "Transpose": true, "Flatten": true,
}

func legacyOK(gp *onnxpb.GraphProto) bool {
	for _, n := range gp.GetNode() {
		if !unchangedSince1[n.GetOpType()] || (n.GetDomain() != "" && n.GetDomain() != "ai.onnx") {
			return false
		}
	}
	return true
}

func convertGraph(gp *onnxpb.GraphProto, opt Options) (*graph.Graph, error) {
	g := &graph.Graph{Name: gp.GetName(), Initializers: map[string]*graph.Tensor{}}
	if len(gp.GetSparseInitializer()) > 0 {
		return nil, unsupportedErr("sparse initializers")
	}
	for _, tp := range gp.GetInitializer() {
		if tp.GetName() == "" {
			return nil, formatErr("initializer without a name")
		}
		t, err := convertTensor(tp)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", tp.GetName(), err)
		}
		g.Initializers[tp.GetName()] = t
	}
	for _, vi := range gp.GetInput() {
		// Before IR version 4 initializers were also listed as inputs;
		// they are constants here.
		if _, ok := g.Initializers[vi.GetName()]; ok {
			continue
		}
		in, err := convertValueInfo(vi, opt, true)
		if err != nil {
			return nil, err
		}
		g.Inputs = append(g.Inputs, in)
	}
	for _, vi := range gp.GetOutput() {
		out, err := convertValueInfo(vi, opt, false)
		if err != nil {
			return nil, err
		}
		g.Outputs = append(g.Outputs, out)
	}
	for i, np := range gp.GetNode() {
		n, err := convertNode(np)
		if err != nil {
			name := np.GetName()
			if name == "" {
				name = fmt.Sprintf("#%d", i)
			}
			return nil, fmt.Errorf("node %s (%s): %w", name, np.GetOpType(), err)
		}
		g.Nodes = append(g.Nodes, n)
	}
	return g, nil
}

// dtypeOf maps an ONNX element type to the graph's, or explains why not.
func dtypeOf(t int32) (graph.DType, error) {
	switch onnxpb.TensorProto_DataType(t) {
	case onnxpb.TensorProto_FLOAT:
		return graph.Float32, nil
	case onnxpb.TensorProto_DOUBLE:
		return graph.Float64, nil
	case onnxpb.TensorProto_FLOAT16:
		return graph.Float16, nil
	case onnxpb.TensorProto_BFLOAT16:
		return graph.BFloat16, nil
	case onnxpb.TensorProto_INT64:
		return graph.Int64, nil
	case onnxpb.TensorProto_INT32:
		return graph.Int32, nil
	}
	name, ok := onnxpb.TensorProto_DataType_name[t]
	if !ok {
		name = fmt.Sprintf("code %d", t)
	}
	return 0, unsupportedErr("element type %s (krelu computes on float16/bfloat16/float/double; int32/int64 only for indices and shapes)", name)
}

func convertValueInfo(vi *onnxpb.ValueInfoProto, opt Options, isInput bool) (graph.ValueInfo, error) {
	v := graph.ValueInfo{Name: vi.GetName()}
	if v.Name == "" {
		return v, formatErr("graph input or output without a name")
	}
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		if !isInput && vi.GetType() == nil {
			return v, nil // outputs may omit their type
		}
		return v, unsupportedErr("value %q is not a tensor (sequences, maps and optionals are not supported)", v.Name)
	}
	dt, err := dtypeOf(tt.GetElemType())
	if err != nil {
		return v, fmt.Errorf("value %q: %w", v.Name, err)
	}
	v.DType = dt
	if !isInput {
		// Keep a fully static declared output shape for display; the
		// graph's InferShapes is the authority.
		var shape []int
		for _, d := range tt.GetShape().GetDim() {
			x, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue)
			if !ok || x.DimValue < 0 || x.DimValue > math.MaxInt32 {
				return v, nil
			}
			shape = append(shape, int(x.DimValue))
		}
		if tt.GetShape() != nil {
			v.Shape = append([]int{}, shape...)
		}
		return v, nil
	}
	if tt.GetShape() == nil {
		return v, unsupportedErr("input %q has no declared shape", v.Name)
	}
	for i, d := range tt.GetShape().GetDim() {
		if x, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			if x.DimValue < 0 || x.DimValue > math.MaxInt32 {
				return v, formatErr("input %q dimension %d is %d", v.Name, i, x.DimValue)
			}
			v.Shape = append(v.Shape, int(x.DimValue))
			continue
		}
		p := d.GetDimParam()
		if x, ok := opt.Dims[p]; ok && p != "" {
			v.Shape = append(v.Shape, x)
			continue
		}
		if i == 0 && opt.Batch > 0 {
			v.Shape = append(v.Shape, opt.Batch)
			continue
		}
		what := "an unknown size"
		if p != "" {
			what = fmt.Sprintf("the symbolic size %q", p)
		}
		return v, unsupportedErr("input %q dimension %d has %s; krelu needs fixed shapes: export without dynamic axes (torch.onnx.export without dynamic_axes), or fix the dimension when reading (onnx.Options Dims or Batch)", v.Name, i, what)
	}
	if v.Shape == nil {
		v.Shape = []int{}
	}
	if _, err := graph.ShapeSize(v.Shape); err != nil {
		return v, formatErr("input %q: %v", v.Name, err)
	}
	return v, nil
}

// convertTensor decodes a TensorProto's values, from raw_data
// (little-endian) or the typed fields.
func convertTensor(tp *onnxpb.TensorProto) (*graph.Tensor, error) {
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(tp.GetExternalData()) > 0 {
		return nil, unsupportedErr("tensor %q keeps its data in an external file; re-export with the weights inside the model (torch.onnx.export does so below 2 GiB; onnx.load + onnx.save_model(..., save_as_external_data=False))", tp.GetName())
	}
	if tp.GetSegment() != nil {
		return nil, unsupportedErr("segmented tensors")
	}
	dt, err := dtypeOf(tp.GetDataType())
	if err != nil {
		return nil, err
	}
	shape := make([]int, len(tp.GetDims()))
	for i, d := range tp.GetDims() {
		if d < 0 || d > math.MaxInt32 {
			return nil, formatErr("dimension %d", d)
		}
		shape[i] = int(d)
	}
	n, err := graph.ShapeSize(shape)
	if err != nil {
		return nil, formatErr("%v", err)
	}
	size := map[graph.DType]int{graph.Float32: 4, graph.Float64: 8, graph.Float16: 2, graph.BFloat16: 2, graph.Int64: 8, graph.Int32: 4}[dt]
	var vals []float64
	have := 0
	if raw := tp.GetRawData(); raw != nil {
		if len(raw) != n*size {
			return nil, formatErr("raw_data has %d bytes, shape %v of %s needs %d", len(raw), shape, dt, n*size)
		}
		vals = make([]float64, n)
		for i := range vals {
			b := raw[i*size:]
			switch dt {
			case graph.Float32:
				vals[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
			case graph.Float64:
				vals[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			case graph.Float16:
				vals[i] = float64(format.Float16(binary.LittleEndian.Uint16(b)))
			case graph.BFloat16:
				vals[i] = float64(format.BFloat16(binary.LittleEndian.Uint16(b)))
			case graph.Int64:
				vals[i] = float64(int64(binary.LittleEndian.Uint64(b)))
			case graph.Int32:
				vals[i] = float64(int32(binary.LittleEndian.Uint32(b)))
			}
		}
		return &graph.Tensor{Shape: shape, Data: vals, DType: dt}, nil
	}
	switch dt {
	case graph.Float32:
		have = len(tp.GetFloatData())
		if have == n {
			vals = make([]float64, n)
			for i, v := range tp.GetFloatData() {
				vals[i] = float64(v)
			}
		}
	case graph.Float64:
		have = len(tp.GetDoubleData())
		if have == n {
			vals = append([]float64(nil), tp.GetDoubleData()...)
		}
	case graph.Int64:
		have = len(tp.GetInt64Data())
		if have == n {
			vals = make([]float64, n)
			for i, v := range tp.GetInt64Data() {
				vals[i] = float64(v)
			}
		}
	case graph.Int32, graph.Float16, graph.BFloat16:
		// int32_data also carries 16-bit floats, one per element.
		have = len(tp.GetInt32Data())
		if have == n {
			vals = make([]float64, n)
			for i, v := range tp.GetInt32Data() {
				switch dt {
				case graph.Int32:
					vals[i] = float64(v)
				case graph.Float16:
					vals[i] = float64(format.Float16(uint16(v)))
				case graph.BFloat16:
					vals[i] = float64(format.BFloat16(uint16(v)))
				}
			}
		}
	}
	if vals == nil {
		return nil, formatErr("tensor %q holds %d values, shape %v needs %d", tp.GetName(), have, shape, n)
	}
	return &graph.Tensor{Shape: shape, Data: vals, DType: dt}, nil
}

func convertNode(np *onnxpb.NodeProto) (*graph.Node, error) {
	op := np.GetOpType()
	if op == "" {
		return nil, formatErr("node without op_type")
	}
	switch d := np.GetDomain(); d {
	case "", "ai.onnx":
	default:
		op = d + "." + op
	}
	n := &graph.Node{Op: op, Name: np.GetName(), Inputs: np.GetInput(), Outputs: np.GetOutput(), Attrs: map[string]graph.Attr{}}
	if !graph.Supported(op) {
		// Report the op before looking at attributes it may use
		// (subgraphs, sparse tensors) that we would reject anyway.
		return nil, &graph.UnsupportedError{Op: op, Node: np.GetName()}
	}
	for _, ap := range np.GetAttribute() {
		a, err := convertAttr(ap)
		if err != nil {
			return nil, err
		}
		// Write stores krelu.Poly coefficients that are not exact float32
		// values as a double tensor; the graph always holds floats.
		if op == graph.OpPoly && a.Kind == graph.AttrTensor && a.Tensor != nil {
			a = graph.Attr{Kind: graph.AttrFloats, Floats: a.Tensor.Data}
		}
		n.Attrs[ap.GetName()] = a
	}
	return n, nil
}

func convertAttr(ap *onnxpb.AttributeProto) (graph.Attr, error) {
	name := ap.GetName()
	if ap.GetRefAttrName() != "" {
		return graph.Attr{}, unsupportedErr("attribute %q refers to a function attribute", name)
	}
	switch ap.GetType() {
	case onnxpb.AttributeProto_INT:
		return graph.Attr{Kind: graph.AttrInt, Int: ap.GetI()}, nil
	case onnxpb.AttributeProto_FLOAT:
		return graph.Attr{Kind: graph.AttrFloat, Float: float64(ap.GetF())}, nil
	case onnxpb.AttributeProto_STRING:
		return graph.Attr{Kind: graph.AttrString, String: string(ap.GetS())}, nil
	case onnxpb.AttributeProto_INTS:
		return graph.Attr{Kind: graph.AttrInts, Ints: append([]int64{}, ap.GetInts()...)}, nil
	case onnxpb.AttributeProto_FLOATS:
		fs := make([]float64, len(ap.GetFloats()))
		for i, v := range ap.GetFloats() {
			fs[i] = float64(v)
		}
		return graph.Attr{Kind: graph.AttrFloats, Floats: fs}, nil
	case onnxpb.AttributeProto_STRINGS:
		ss := make([]string, len(ap.GetStrings()))
		for i, v := range ap.GetStrings() {
			ss[i] = string(v)
		}
		return graph.Attr{Kind: graph.AttrStrings, Strings: ss}, nil
	case onnxpb.AttributeProto_TENSOR:
		t, err := convertTensor(ap.GetT())
		if err != nil {
			return graph.Attr{}, fmt.Errorf("attribute %q: %w", name, err)
		}
		return graph.Attr{Kind: graph.AttrTensor, Tensor: t}, nil
	case onnxpb.AttributeProto_GRAPH, onnxpb.AttributeProto_GRAPHS:
		return graph.Attr{}, unsupportedErr("attribute %q holds a subgraph (control flow is not supported)", name)
	}
	return graph.Attr{}, unsupportedErr("attribute %q has type %s", name, ap.GetType())
}

// ReadTensor parses a serialized TensorProto (the .pb files of ONNX's test
// data) into a tensor.
func ReadTensor(data []byte) (*graph.Tensor, error) {
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return nil, formatErr("not an ONNX tensor protobuf")
	}
	return convertTensor(&tp)
}
