package safetensors

import (
	"bytes"
	"slices"
	"testing"
)

func TestWriteF32RoundTrip(t *testing.T) {
	var b bytes.Buffer
	in := []Tensor{{Name: "b", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, -6}}, {Name: "a", Shape: []int{1}, Data: []float32{0.5}}}
	if err := WriteF32(&b, in); err != nil {
		t.Fatal(err)
	}
	if hl := int(b.Bytes()[0]); hl%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", hl)
	}
	f, err := Parse(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range in {
		got, shape, err := f.Float32(want.Name)
		if err != nil || !slices.Equal(got, want.Data) || !slices.Equal(shape, want.Shape) {
			t.Errorf("%s: %v %v %v", want.Name, got, shape, err)
		}
	}
	for _, bad := range [][]Tensor{
		{{Name: "x", Shape: []int{2}, Data: []float32{1}}},
		{{Name: "x", Shape: []int{1}, Data: []float32{1}}, {Name: "x", Shape: []int{1}, Data: []float32{1}}},
	} {
		if err := WriteF32(&b, bad); err == nil {
			t.Errorf("WriteF32 accepted %v", bad)
		}
	}
}
