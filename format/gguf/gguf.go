package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/krelu/krelu/format"
)

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("gguf: invalid file")

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// Limits far above real files, checked before allocating.
const (
	MaxDims     = 4
	maxTensors  = 1 << 20
	maxKV       = 1 << 20
	maxArrayNst = 4 // nesting depth of arrays
)

// Metadata value types.
const (
	TypeUint8   = 0
	TypeInt8    = 1
	TypeUint16  = 2
	TypeInt16   = 3
	TypeUint32  = 4
	TypeInt32   = 5
	TypeFloat32 = 6
	TypeBool    = 7
	TypeString  = 8
	TypeArray   = 9
	TypeUint64  = 10
	TypeInt64   = 11
	TypeFloat64 = 12
)

// Tensor types this reader converts (ggml_type).
const (
	GGMLTypeF32  = 0
	GGMLTypeF16  = 1
	GGMLTypeBF16 = 30
)

// TensorInfo describes one tensor.
type TensorInfo struct {
	Name string
	// Dims are in ggml order: Dims[0] varies fastest. A PyTorch tensor of
	// shape (out, in) is stored with Dims = [in, out].
	Dims   []uint64
	Type   uint32
	Offset uint64 // relative to the data section
	Size   int64  // bytes; -1 for types this reader does not know
}

// NumElem is the product of the dims.
func (t TensorInfo) NumElem() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// File is a parsed GGUF file.
type File struct {
	Version   uint32
	Metadata  map[string]any // uint8…float64, bool, string, or []any for arrays
	keys      []string       // in file order
	Tensors   []TensorInfo   // in file order
	Alignment uint64
	DataStart int64
	r         io.ReaderAt
	size      int64
	closer    io.Closer
}

// Open opens and parses the file at path; Close releases it.
func Open(path string) (*File, error) {
	f, fh, err := format.OpenWith("gguf", path, NewReader)
	if err != nil {
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// Close closes the file opened by Open.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

// Parse parses a GGUF file held in memory.
func Parse(b []byte) (*File, error) { return NewReader(bytes.NewReader(b), int64(len(b))) }

// reader decodes the header sequentially, tracking the bytes remaining.
type reader struct {
	r   *io.SectionReader
	off int64
	n   int64
	err error
}

func (d *reader) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s (at byte %d)", ErrFormat, fmt.Sprintf(format, a...), d.off)
	}
}

func (d *reader) bytes(n uint64, what string) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(d.n-d.off) {
		d.fail("%s needs %d bytes, only %d remain (truncated?)", what, n, d.n-d.off)
		return nil
	}
	b := make([]byte, n)
	if _, err := d.r.ReadAt(b, d.off); err != nil {
		d.fail("reading %s: %v", what, err)
		return nil
	}
	d.off += int64(n)
	return b
}

func (d *reader) u32(what string) uint32 {
	b := d.bytes(4, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *reader) u64(what string) uint64 {
	b := d.bytes(8, what)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *reader) str(what string) string {
	n := d.u64(what + " length")
	return string(d.bytes(n, what))
}

// scalarSize is the byte width of fixed-size metadata types.
var scalarSize = map[uint32]uint64{
	TypeUint8: 1, TypeInt8: 1, TypeBool: 1, TypeUint16: 2, TypeInt16: 2,
	TypeUint32: 4, TypeInt32: 4, TypeFloat32: 4, TypeUint64: 8, TypeInt64: 8, TypeFloat64: 8,
}

func (d *reader) value(typ uint32, depth int, what string) any {
	if d.err != nil {
		return nil
	}
	if w, ok := scalarSize[typ]; ok {
		b := d.bytes(w, what)
		if b == nil {
			return nil
		}
		switch typ {
		case TypeUint8:
			return b[0]
		case TypeInt8:
			return int8(b[0])
		case TypeBool:
			if b[0] > 1 {
				d.fail("%s: bool byte %d", what, b[0])
			}
			return b[0] == 1
		case TypeUint16:
			return binary.LittleEndian.Uint16(b)
		case TypeInt16:
			return int16(binary.LittleEndian.Uint16(b))
		case TypeUint32:
			return binary.LittleEndian.Uint32(b)
		case TypeInt32:
			return int32(binary.LittleEndian.Uint32(b))
		case TypeFloat32:
			return math.Float32frombits(binary.LittleEndian.Uint32(b))
		case TypeUint64:
			return binary.LittleEndian.Uint64(b)
		case TypeInt64:
			return int64(binary.LittleEndian.Uint64(b))
		case TypeFloat64:
			return math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
	}
	switch typ {
	case TypeString:
		return d.str(what)
	case TypeArray:
		if depth >= maxArrayNst {
			d.fail("%s: arrays nested deeper than %d", what, maxArrayNst)
			return nil
		}
		et := d.u32(what + " element type")
		n := d.u64(what + " element count")
		// Every element takes at least one byte (strings at least 8).
		minW := uint64(1)
		if w, ok := scalarSize[et]; ok {
			minW = w
		} else if et == TypeString || et == TypeArray {
			minW = 8
		}
		if d.err == nil && n > uint64(d.n-d.off)/minW {
			d.fail("%s: %d elements cannot fit in the %d bytes remaining", what, n, d.n-d.off)
			return nil
		}
		// Grow as elements are read rather than trusting n up front.
		out := make([]any, 0, min(n, 1<<12))
		for i := uint64(0); i < n && d.err == nil; i++ {
			out = append(out, d.value(et, depth+1, what))
		}
		return out
	}
	d.fail("%s: unknown metadata value type %d", what, typ)
	return nil
}

// tensorBytes returns the byte size of n elements of a ggml type, or -1.
func tensorBytes(typ uint32, n uint64) int64 {
	var w uint64
	switch typ {
	case GGMLTypeF32:
		w = 4
	case GGMLTypeF16, GGMLTypeBF16:
		w = 2
	default:
		return -1
	}
	if n > math.MaxInt64/w {
		return math.MaxInt64
	}
	return int64(n * w)
}

// NewReader parses the header and tensor infos of a GGUF file of the
// given size and validates every known tensor's byte range.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	d := &reader{r: io.NewSectionReader(r, 0, size), n: size}
	if size < 4 {
		return nil, fmt.Errorf("%w: %d bytes, too short for the magic", ErrFormat, size)
	}
	if m := d.u32("magic"); m != Magic {
		return nil, fmt.Errorf("%w: magic %#08x, want %#08x (\"GGUF\")", ErrFormat, m, Magic)
	}
	f := &File{Metadata: map[string]any{}, r: r, size: size, Alignment: 32}
	f.Version = d.u32("version")
	if d.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("%w: version %d not supported (want 2 or 3)", ErrFormat, f.Version)
	}
	nt := d.u64("tensor count")
	nkv := d.u64("metadata count")
	if d.err != nil {
		return nil, d.err
	}
	if nt > maxTensors || nkv > maxKV {
		return nil, fmt.Errorf("%w: %d tensors and %d metadata entries exceed the limits (%d, %d)", ErrFormat, nt, nkv, maxTensors, maxKV)
	}
	for i := uint64(0); i < nkv && d.err == nil; i++ {
		key := d.str(fmt.Sprintf("metadata key %d", i))
		typ := d.u32("value type of " + key)
		v := d.value(typ, 0, key)
		if d.err != nil {
			break
		}
		if _, dup := f.Metadata[key]; dup {
			d.fail("duplicate metadata key %q", key)
			break
		}
		f.Metadata[key] = v
		f.keys = append(f.keys, key)
	}
	if a, ok := f.Metadata["general.alignment"]; ok {
		au, ok := a.(uint32)
		if !ok || au == 0 || au&(au-1) != 0 {
			return nil, fmt.Errorf("%w: general.alignment %v must be a power-of-two uint32", ErrFormat, a)
		}
		f.Alignment = uint64(au)
	}
	names := map[string]bool{}
	for i := uint64(0); i < nt && d.err == nil; i++ {
		var t TensorInfo
		t.Name = d.str(fmt.Sprintf("tensor %d name", i))
		nd := d.u32("n_dims of " + t.Name)
		if d.err == nil && (nd == 0 || nd > MaxDims) {
			d.fail("tensor %q: n_dims %d out of range [1, %d]", t.Name, nd, MaxDims)
		}
		for j := uint32(0); j < nd && d.err == nil; j++ {
			t.Dims = append(t.Dims, d.u64("dims of "+t.Name))
		}
		t.Type = d.u32("type of " + t.Name)
		t.Offset = d.u64("offset of " + t.Name)
		if d.err != nil {
			break
		}
		if names[t.Name] {
			d.fail("duplicate tensor name %q", t.Name)
			break
		}
		names[t.Name] = true
		n := uint64(1)
		for _, dim := range t.Dims {
			if dim != 0 && n > uint64(size)/dim {
				d.fail("tensor %q: dims %v exceed the file size", t.Name, t.Dims)
				break
			}
			n *= dim
		}
		t.Size = tensorBytes(t.Type, n)
		f.Tensors = append(f.Tensors, t)
	}
	if d.err != nil {
		return nil, d.err
	}
	f.DataStart = int64((uint64(d.off) + f.Alignment - 1) / f.Alignment * f.Alignment)
	if f.DataStart > size {
		return nil, fmt.Errorf("%w: data section starts at %d, beyond the %d-byte file", ErrFormat, f.DataStart, size)
	}
	// Known tensors must be aligned, inside the file and must not overlap.
	type span struct {
		b, e int64
		name string
	}
	var spans []span
	for _, t := range f.Tensors {
		if t.Offset%f.Alignment != 0 {
			return nil, fmt.Errorf("%w: tensor %q offset %d not aligned to %d", ErrFormat, t.Name, t.Offset, f.Alignment)
		}
		if t.Size < 0 {
			continue
		}
		if t.Offset > uint64(size-f.DataStart) || t.Size > size-f.DataStart-int64(t.Offset) {
			return nil, fmt.Errorf("%w: tensor %q: %d bytes at data offset %d run past the end of the file (truncated?)", ErrFormat, t.Name, t.Size, t.Offset)
		}
		spans = append(spans, span{int64(t.Offset), int64(t.Offset) + t.Size, t.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].b < spans[j].b })
	for i := 1; i < len(spans); i++ {
		if spans[i].b < spans[i-1].e {
			return nil, fmt.Errorf("%w: tensors %q and %q overlap", ErrFormat, spans[i-1].name, spans[i].name)
		}
	}
	return f, nil
}

// Keys returns the metadata keys in file order.
func (f *File) Keys() []string { return append([]string(nil), f.keys...) }

// Tensor returns the info of the tensor called name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return TensorInfo{}, false
}

// Float32 returns the values of tensor name (F32, F16 or BF16) in storage
// order (Dims[0] fastest) with its dims.
func (f *File) Float32(name string) ([]float32, []uint64, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return nil, nil, fmt.Errorf("gguf: no tensor %q (have %d tensors)", name, len(f.Tensors))
	}
	if t.Size < 0 {
		return nil, nil, fmt.Errorf("gguf: tensor %q has ggml type %d; only F32, F16 and BF16 are converted", name, t.Type)
	}
	raw := make([]byte, t.Size)
	if _, err := f.r.ReadAt(raw, f.DataStart+int64(t.Offset)); err != nil && t.Size > 0 {
		return nil, nil, fmt.Errorf("gguf: tensor %q: %w", name, err)
	}
	out := make([]float32, t.NumElem())
	switch t.Type {
	case GGMLTypeF32:
		format.DecodeLE(format.F32, raw, out)
	case GGMLTypeF16:
		format.DecodeLE(format.F16, raw, out)
	case GGMLTypeBF16:
		format.DecodeLE(format.BF16, raw, out)
	}
	return out, t.Dims, nil
}

// String returns the string metadata value of key.
func (f *File) String(key string) (string, bool) {
	s, ok := f.Metadata[key].(string)
	return s, ok
}
