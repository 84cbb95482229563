package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"

	"google.golang.org/protobuf/proto"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx/internal/onnxpb"
)

// polyDomain is the ONNX domain of krelu's own ops (graph.OpPoly is
// "krelu.Poly": domain "krelu", op type "Poly").
const polyDomain = "krelu"

// Write serializes a graph as an ONNX ModelProto (IR version 8), so a
// rewritten model can be inspected with ONNX tools (Netron, onnx.checker)
// or read back by Read. Constant tensors keep the element type they were
// read with (graph.Tensor.DType); other tensors are written as float when
// every value is exactly a float32 and as double otherwise. Outputs carry
// their declared shape (graph.ValueInfo.Shape) when it is set. krelu.Poly
// nodes are written in domain "krelu"; their coefficients become a double
// tensor attribute unless they are exact float32 values.
func Write(g *graph.Graph) ([]byte, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	opset := g.Opset
	if opset == 0 {
		opset = MaxOpset
	}
	gp := &onnxpb.GraphProto{Name: proto.String(g.Name)}
	names := make([]string, 0, len(g.Initializers))
	for k := range g.Initializers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		gp.Initializer = append(gp.Initializer, tensorProto(k, g.Initializers[k]))
	}
	for _, in := range g.Inputs {
		dims := dimsOf(in.Shape)
		gp.Input = append(gp.Input, &onnxpb.ValueInfoProto{Name: proto.String(in.Name), Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
				ElemType: proto.Int32(elemType(in.DType)), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}})
	}
	for _, out := range g.Outputs {
		tt := &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(elemType(out.DType))}
		if out.Shape != nil {
			// The declared shape (what the source file said, or what
			// an exporter set); nil writes none.
			tt.Shape = &onnxpb.TensorShapeProto{Dim: dimsOf(out.Shape)}
		}
		gp.Output = append(gp.Output, &onnxpb.ValueInfoProto{Name: proto.String(out.Name), Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}})
	}
	usesPoly := false
	for _, n := range g.Nodes {
		np := &onnxpb.NodeProto{OpType: proto.String(n.Op), Name: proto.String(n.Name), Input: n.Inputs, Output: n.Outputs}
		if n.Op == graph.OpPoly {
			usesPoly = true
			np.OpType, np.Domain = proto.String("Poly"), proto.String(polyDomain)
		}
		keys := make([]string, 0, len(n.Attrs))
		for k := range n.Attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ap, err := attrProto(k, n.Attrs[k], n.Op == graph.OpPoly && k == "coefficients")
			if err != nil {
				return nil, fmt.Errorf("onnx: node %q (%s): %w", n.Name, n.Op, err)
			}
			np.Attribute = append(np.Attribute, ap)
		}
		gp.Node = append(gp.Node, np)
	}
	m := &onnxpb.ModelProto{
		IrVersion:    proto.Int64(8),
		ProducerName: proto.String("krelu"),
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opset))}},
		Graph:        gp,
	}
	if usesPoly {
		m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(polyDomain), Version: proto.Int64(1)})
	}
	return proto.Marshal(m)
}

func dimsOf(shape []int) []*onnxpb.TensorShapeProto_Dimension {
	dims := make([]*onnxpb.TensorShapeProto_Dimension, len(shape))
	for i, d := range shape {
		dims[i] = &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}}
	}
	return dims
}

// WriteFile writes Write's output to path.
func WriteFile(path string, g *graph.Graph) error {
	b, err := Write(g)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func elemType(d graph.DType) int32 {
	switch d {
	case graph.Float64:
		return int32(onnxpb.TensorProto_DOUBLE)
	case graph.Int64:
		return int32(onnxpb.TensorProto_INT64)
	case graph.Int32:
		return int32(onnxpb.TensorProto_INT32)
	}
	// Float16/bfloat16 values are written as float32, which holds them
	// exactly.
	return int32(onnxpb.TensorProto_FLOAT)
}

// float32Exact reports whether every value survives a float32 round trip.
func float32Exact(v []float64) bool {
	for _, x := range v {
		if float64(float32(x)) != x && !math.IsNaN(x) {
			return false
		}
	}
	return true
}

func tensorProto(name string, t *graph.Tensor) *onnxpb.TensorProto {
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	tp := &onnxpb.TensorProto{Name: proto.String(name), Dims: dims}
	var raw []byte
	switch {
	case t.DType == graph.Int64:
		tp.DataType = proto.Int32(int32(onnxpb.TensorProto_INT64))
		raw = make([]byte, 8*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(int64(v)))
		}
	case t.DType == graph.Int32:
		tp.DataType = proto.Int32(int32(onnxpb.TensorProto_INT32))
		raw = make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(raw[4*i:], uint32(int32(v)))
		}
	case t.DType != graph.Float64 && float32Exact(t.Data):
		tp.DataType = proto.Int32(int32(onnxpb.TensorProto_FLOAT))
		raw = make([]byte, 4*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(v)))
		}
	default:
		tp.DataType = proto.Int32(int32(onnxpb.TensorProto_DOUBLE))
		raw = make([]byte, 8*len(t.Data))
		for i, v := range t.Data {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
	}
	tp.RawData = raw
	return tp
}

func attrProto(name string, a graph.Attr, exactFloats bool) (*onnxpb.AttributeProto, error) {
	ap := &onnxpb.AttributeProto{Name: proto.String(name)}
	switch a.Kind {
	case graph.AttrInt:
		ap.Type, ap.I = onnxpb.AttributeProto_INT.Enum(), proto.Int64(a.Int)
	case graph.AttrFloat:
		ap.Type, ap.F = onnxpb.AttributeProto_FLOAT.Enum(), proto.Float32(float32(a.Float))
	case graph.AttrString:
		ap.Type, ap.S = onnxpb.AttributeProto_STRING.Enum(), []byte(a.String)
	case graph.AttrInts:
		ap.Type, ap.Ints = onnxpb.AttributeProto_INTS.Enum(), a.Ints
	case graph.AttrFloats:
		if exactFloats && !float32Exact(a.Floats) {
			ap.Type = onnxpb.AttributeProto_TENSOR.Enum()
			ap.T = tensorProto("", &graph.Tensor{Shape: []int{len(a.Floats)}, Data: a.Floats, DType: graph.Float64})
			break
		}
		ap.Type = onnxpb.AttributeProto_FLOATS.Enum()
		for _, v := range a.Floats {
			ap.Floats = append(ap.Floats, float32(v))
		}
	case graph.AttrStrings:
		ap.Type = onnxpb.AttributeProto_STRINGS.Enum()
		for _, s := range a.Strings {
			ap.Strings = append(ap.Strings, []byte(s))
		}
	case graph.AttrTensor:
		if a.Tensor == nil {
			return nil, fmt.Errorf("attribute %q has no tensor", name)
		}
		ap.Type, ap.T = onnxpb.AttributeProto_TENSOR.Enum(), tensorProto("", a.Tensor)
	default:
		return nil, fmt.Errorf("attribute %q has no type", name)
	}
	return ap, nil
}
