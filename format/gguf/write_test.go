package gguf

import (
	"bytes"
	"slices"
	"testing"
)

func TestWriteF32RoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := []Tensor{{Name: "token_embd.weight", Dims: []uint64{3, 2}, Data: []float32{1, 2, 3, 4, 5, -6}}, {Name: "output_norm.weight", Dims: []uint64{3}, Data: []float32{7, 8, 9}}}
	if err := WriteF32(&b, "llama", in); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := f.String("general.architecture"); a != "llama" || f.Version != 3 {
		t.Errorf("architecture %q, version %d", a, f.Version)
	}
	for _, want := range in {
		got, dims, err := f.Float32(want.Name)
		if err != nil || !slices.Equal(got, want.Data) || !slices.Equal(dims, want.Dims) {
			t.Errorf("%s: %v %v %v", want.Name, got, dims, err)
		}
	}
	if err := WriteF32(&b, "llama", []Tensor{{Name: "x", Dims: []uint64{2}, Data: []float32{1}}}); err == nil {
		t.Error("WriteF32 accepted 1 value for dims [2]")
	}
}
