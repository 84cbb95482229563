package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Tensor is one named float32 tensor to write. Dims are in ggml order
// (Dims[0] fastest): a PyTorch tensor of shape (rows, cols) has Dims
// [cols, rows].
type Tensor struct {
	Name string
	Dims []uint64
	Data []float32
}

// writeAlignment is GGUF's default data alignment.
const writeAlignment = 32

// WriteF32 writes a GGUF v3 file of F32 tensors with the string metadata
// general.architecture = arch, data aligned to 32 bytes (the format's
// default). It lets tests build real files and krelu export its own
// small models.
func WriteF32(w io.Writer, arch string, tensors []Tensor) error {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { le(uint64(len(s))); b.WriteString(s) }
	le(uint32(Magic))
	le(uint32(3))
	le(uint64(len(tensors)))
	le(uint64(1))
	str("general.architecture")
	le(uint32(TypeString))
	str(arch)
	var off uint64
	for _, t := range tensors {
		n := uint64(1)
		for _, d := range t.Dims {
			n *= d
		}
		if len(t.Dims) == 0 || len(t.Dims) > MaxDims || n != uint64(len(t.Data)) {
			return fmt.Errorf("gguf: tensor %q: dims %v do not hold its %d values", t.Name, t.Dims, len(t.Data))
		}
		str(t.Name)
		le(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			le(d)
		}
		le(uint32(GGMLTypeF32))
		le(off)
		off += (4*n + writeAlignment - 1) / writeAlignment * writeAlignment
	}
	pad := func() {
		for b.Len()%writeAlignment != 0 {
			b.WriteByte(0)
		}
	}
	pad()
	for _, t := range tensors {
		for _, x := range t.Data {
			le(math.Float32bits(x))
		}
		pad()
	}
	_, err := w.Write(b.Bytes())
	return err
}
