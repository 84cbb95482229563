package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
)

// Tensor is one named float32 tensor to write, row-major in Shape.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// WriteF32 writes tensors as a safetensors file of F32 tensors, in the
// layout of the reference implementation: the JSON header padded with
// spaces to a multiple of 8 bytes, then the data in the order of the
// sorted names. It lets krelu hand its own models (e.g. stories260K) to
// tools that read safetensors, and lets tests build real files.
func WriteF32(w io.Writer, tensors []Tensor) error {
	ts := append([]Tensor(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	hdr := map[string]any{}
	var off int64
	for i, t := range ts {
		n := 1
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: tensor %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			n *= d
		}
		if n != len(t.Data) {
			return fmt.Errorf("safetensors: tensor %q: shape %v holds %d values, have %d", t.Name, t.Shape, n, len(t.Data))
		}
		if t.Name == "" || t.Name == "__metadata__" || (i > 0 && ts[i-1].Name == t.Name) {
			return fmt.Errorf("safetensors: invalid or duplicate tensor name %q", t.Name)
		}
		hdr[t.Name] = map[string]any{"dtype": "F32", "shape": t.Shape, "data_offsets": []int64{off, off + 4*int64(n)}}
		off += 4 * int64(n)
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("safetensors: header: %w", err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	var b bytes.Buffer
	b.Grow(8 + len(h) + int(off))
	binary.Write(&b, binary.LittleEndian, uint64(len(h)))
	b.Write(h)
	for _, t := range ts {
		for _, x := range t.Data {
			binary.Write(&b, binary.LittleEndian, math.Float32bits(x))
		}
	}
	_, err = w.Write(b.Bytes())
	return err
}
