package onnx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx/internal/onnxpb"
)

func dim(v int64) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
}

func dimParam(p string) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: p}}
}

func tensorType(elem onnxpb.TensorProto_DataType, dims ...*onnxpb.TensorShapeProto_Dimension) *onnxpb.TypeProto {
	return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(elem)), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}
}

func rawFloats(v ...float32) []byte {
	var b bytes.Buffer
	for _, x := range v {
		binary.Write(&b, binary.LittleEndian, math.Float32bits(x))
	}
	return b.Bytes()
}

// tinyModel is y = relu(x·W + b) with x [1,4]: W in raw_data, b in
// float_data, so both storage paths are read.
func tinyModel() *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("tiny"),
			Input: []*onnxpb.ValueInfoProto{{Name: proto.String("x"),
				Type: tensorType(onnxpb.TensorProto_FLOAT, dim(1), dim(4))}},
			Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y"),
				Type: tensorType(onnxpb.TensorProto_FLOAT)}},
			Initializer: []*onnxpb.TensorProto{
				{Name: proto.String("W"), Dims: []int64{4, 2}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
					RawData: rawFloats(1, 0, 0, 1, -1, 0, 0, -1)},
				{Name: proto.String("b"), Dims: []int64{2}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
					FloatData: []float32{0.5, -0.5}},
			},
			Node: []*onnxpb.NodeProto{
				{OpType: proto.String("MatMul"), Name: proto.String("mm"), Input: []string{"x", "W"}, Output: []string{"h"}},
				{OpType: proto.String("Add"), Name: proto.String("add"), Input: []string{"h", "b"}, Output: []string{"z"}},
				{OpType: proto.String("Relu"), Name: proto.String("act"), Input: []string{"z"}, Output: []string{"y"}},
			},
		},
	}
}

func marshal(t testing.TB, m *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadTiny(t *testing.T) {
	g, err := Read(marshal(t, tinyModel()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, _ := graph.NewTensor([]int{1, 4}, []float64{1, 2, 3, 4})
	out, err := g.Run(map[string]*graph.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	// x·W = [1-3, 2-4] = [-2, -2]; + b = [-1.5, -2.5]; relu → 0, 0.
	// Use a second input with a positive part.
	if y := out["y"].Data; y[0] != 0 || y[1] != 0 {
		t.Fatalf("y = %v", y)
	}
	x2, _ := graph.NewTensor([]int{1, 4}, []float64{4, 1, 1, 0})
	out, _ = g.Run(map[string]*graph.Tensor{"x": x2})
	if y := out["y"].Data; y[0] != 3.5 || y[1] != 0.5 {
		t.Fatalf("y = %v, want [3.5 0.5]", y)
	}
}

// expectErr checks that err is non-nil and mentions every word.
func expectErr(t *testing.T, what string, err error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not mention %q", what, err, w)
		}
	}
	if strings.Contains(err.Error(), "onnxpb") || strings.Contains(err.Error(), "*") {
		t.Errorf("%s: error %q shows Go internals", what, err)
	}
}

func TestBadInput(t *testing.T) {
	good := marshal(t, tinyModel())
	t.Run("empty", func(t *testing.T) {
		_, err := Read(nil, Options{})
		expectErr(t, "empty", err, "empty")
	})
	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{1, 7, len(good) / 2, len(good) - 1} {
			_, err := Read(good[:n], Options{})
			if err == nil {
				t.Fatalf("truncated to %d bytes: no error", n)
			}
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupported) {
				t.Errorf("truncated to %d: %v", n, err)
			}
		}
	})
	t.Run("garbage", func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for i := 0; i < 200; i++ {
			b := make([]byte, 1+r.IntN(300))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			if _, err := Read(b, Options{}); err == nil {
				t.Fatalf("garbage %x read without error", b)
			}
		}
		_, err := Read([]byte("this is a text file, not a model\n"), Options{})
		expectErr(t, "text", err, "not an ONNX")
	})
	t.Run("unsupported op", func(t *testing.T) {
		m := tinyModel()
		m.Graph.Node[2].OpType = proto.String("MaxPool")
		_, err := Read(marshal(t, m), Options{})
		var ue *graph.UnsupportedError
		if !errors.As(err, &ue) {
			t.Fatalf("want *graph.UnsupportedError, got %v", err)
		}
		expectErr(t, "MaxPool", err, "MaxPool", "act", "AveragePool")
		m.Graph.Node[2].OpType = proto.String("Loop")
		_, err = Read(marshal(t, m), Options{})
		expectErr(t, "Loop", err, "unsupported op Loop", "act")
	})
	t.Run("dynamic shape", func(t *testing.T) {
		m := tinyModel()
		m.Graph.Input[0].Type = tensorType(onnxpb.TensorProto_FLOAT, dimParam("batch"), dim(4))
		_, err := Read(marshal(t, m), Options{})
		expectErr(t, "dynamic", err, `"batch"`, `"x"`, "fixed shapes", "dynamic_axes")
		for _, opt := range []Options{{Batch: 3}, {Dims: map[string]int{"batch": 3}}} {
			g, err := Read(marshal(t, m), opt)
			if err != nil || g.Inputs[0].Shape[0] != 3 {
				t.Fatalf("%+v: %v", opt, err)
			}
		}
		_, err = Read(marshal(t, m), Options{Batch: -1})
		expectErr(t, "negative batch", err, "batch")
		_, err = Read(marshal(t, m), Options{Dims: map[string]int{"batch": 0}})
		expectErr(t, "zero dim", err, `"batch"`)
		m.Graph.Input[0].Type = tensorType(onnxpb.TensorProto_FLOAT, dim(1), &onnxpb.TensorShapeProto_Dimension{})
		_, err = Read(marshal(t, m), Options{})
		expectErr(t, "unknown dim", err, "unknown size")
	})
	t.Run("external data", func(t *testing.T) {
		m := tinyModel()
		w := m.Graph.Initializer[0]
		w.RawData = nil
		w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("weights.bin")}}
		_, err := Read(marshal(t, m), Options{})
		expectErr(t, "external", err, "external file", `"W"`)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("external data: %v does not wrap ErrUnsupported", err)
		}
	})
	t.Run("non-float types", func(t *testing.T) {
		m := tinyModel()
		m.Graph.Input[0].Type = tensorType(onnxpb.TensorProto_UINT8, dim(1), dim(4))
		_, err := Read(marshal(t, m), Options{})
		expectErr(t, "uint8 input", err, "UINT8", `"x"`)
		m = tinyModel()
		m.Graph.Initializer[0].DataType = proto.Int32(int32(onnxpb.TensorProto_INT8))
		_, err = Read(marshal(t, m), Options{})
		expectErr(t, "int8 weight", err, "INT8", `"W"`)
		m = tinyModel()
		m.Graph.Input[0].Type = &onnxpb.TypeProto{Value: &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{}}}
		_, err = Read(marshal(t, m), Options{})
		expectErr(t, "sequence", err, "not a tensor")
	})
	t.Run("inconsistent tensor", func(t *testing.T) {
		m := tinyModel()
		m.Graph.Initializer[0].RawData = m.Graph.Initializer[0].RawData[:12]
		_, err := Read(marshal(t, m), Options{})
		expectErr(t, "short raw_data", err, "raw_data", `"W"`)
		m = tinyModel()
		m.Graph.Initializer[1].Dims = []int64{1 << 40}
		_, err = Read(marshal(t, m), Options{})
		expectErr(t, "huge dims", err, `"b"`)
	})
	t.Run("opset", func(t *testing.T) {
		for _, v := range []int64{5, 19} {
			m := tinyModel()
			m.OpsetImport[0].Version = proto.Int64(v)
			_, err := Read(marshal(t, m), Options{})
			expectErr(t, "opset", err, "opset", "6–18")
		}
	})
	t.Run("no opset", func(t *testing.T) {
		m := tinyModel()
		m.OpsetImport = nil
		_, err := Read(marshal(t, m), Options{})
		expectErr(t, "no opset", err, "opset_import", `"mm"`)
	})
	t.Run("undefined value", func(t *testing.T) {
		m := tinyModel()
		m.Graph.Node[1].Input[1] = "nope"
		_, err := Read(marshal(t, m), Options{})
		expectErr(t, "undefined", err, `"nope"`, "add")
	})
	t.Run("wrong input", func(t *testing.T) {
		g, err := Read(good, Options{})
		if err != nil {
			t.Fatal(err)
		}
		x, _ := graph.NewTensor([]int{1, 5}, make([]float64, 5))
		_, err = g.Run(map[string]*graph.Tensor{"x": x})
		expectErr(t, "shape", err, "[1 5]", "[1 4]")
		_, err = g.Run(map[string]*graph.Tensor{"input": x})
		expectErr(t, "name", err, `"x"`)
		nan, _ := graph.NewTensor([]int{1, 4}, []float64{0, math.NaN(), 0, 0})
		_, err = g.Run(map[string]*graph.Tensor{"x": nan})
		expectErr(t, "NaN", err, "NaN")
		// An int64 input fed fractional values (wrong dtype).
		m := tinyModel()
		m.Graph.Input[0].Type = tensorType(onnxpb.TensorProto_INT64, dim(1), dim(4))
		gi, err := Read(marshal(t, m), Options{})
		if err != nil {
			t.Fatal(err)
		}
		frac, _ := graph.NewTensor([]int{1, 4}, []float64{0.5, 0, 0, 0})
		_, err = gi.Run(map[string]*graph.Tensor{"x": frac})
		expectErr(t, "dtype", err, "int64", "non-integer")
	})
}

// FuzzReadModel feeds arbitrary bytes to Read: it must return a graph or
// an error, never panic, and any graph it returns must validate.
func FuzzReadModel(f *testing.F) {
	good := marshal(f, tinyModel())
	f.Add(good)
	f.Add(good[:len(good)/2])
	m := tinyModel()
	m.Graph.Input[0].Type = tensorType(onnxpb.TensorProto_FLOAT, dimParam("batch"), dim(4))
	f.Add(marshal(f, m))
	m = tinyModel()
	m.Graph.Node = append(m.Graph.Node, &onnxpb.NodeProto{OpType: proto.String("Conv"), Input: []string{"y", "W"}, Output: []string{"c"},
		Attribute: []*onnxpb.AttributeProto{{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}}})
	f.Add(marshal(f, m))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Read(data, Options{Batch: 1})
		if err != nil {
			if g != nil {
				t.Fatal("graph returned with an error")
			}
			return
		}
		if err := g.Validate(); err != nil {
			t.Fatalf("Read returned an invalid graph: %v", err)
		}
	})
}

// FuzzReadTensor feeds arbitrary bytes to ReadTensor (the TensorProto .pb
// files of ONNX test data): a tensor whose data fills its shape, or an
// error, never a panic. The seeds are raw-data and typed-field tensors.
func FuzzReadTensor(f *testing.F) {
	for _, tp := range tinyModel().Graph.Initializer {
		b, err := proto.Marshal(tp)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, err := proto.Marshal(&onnxpb.TensorProto{Dims: []int64{2, 1}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{3, -4}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		tt, err := ReadTensor(data)
		if err != nil {
			if tt != nil {
				t.Fatal("tensor returned with an error")
			}
			return
		}
		if n, err := graph.ShapeSize(tt.Shape); err != nil || n != len(tt.Data) {
			t.Fatalf("tensor of shape %v holds %d values", tt.Shape, len(tt.Data))
		}
	})
}
