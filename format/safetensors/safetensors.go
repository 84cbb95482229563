package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/krelu/krelu/format"
)

// MaxHeaderLen is the largest accepted JSON header, the reference
// implementation's limit.
const MaxHeaderLen = 100 << 20

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("safetensors: invalid file")

// dtypeSize lists the dtypes of the specification with their byte width.
var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Info describes one tensor.
type Info struct {
	Name    string
	DType   string
	Shape   []int
	Begin   int64 // byte offset in the file
	End     int64 // exclusive
	NumElem int64
}

// File is an opened safetensors file; tensor data is read on demand.
type File struct {
	Metadata map[string]string
	infos    map[string]Info
	names    []string
	r        io.ReaderAt
	closer   io.Closer
}

// Open opens the file at path; Close releases it.
func Open(path string) (*File, error) {
	sf, fh, err := format.OpenWith("safetensors", path, NewReader)
	if err != nil {
		return nil, err
	}
	sf.closer = fh
	return sf, nil
}

// Parse reads a safetensors file held in memory.
func Parse(b []byte) (*File, error) { return NewReader(bytes.NewReader(b), int64(len(b))) }

// Close closes the underlying file when it was opened by Open.
func (f *File) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

type rawInfo struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// NewReader parses the header of a safetensors file of the given size
// read through r and validates every tensor's byte range.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	var lb [8]byte
	if _, err := r.ReadAt(lb[:], 0); err != nil {
		return nil, fmt.Errorf("%w: %d bytes, too short for the 8-byte header length", ErrFormat, size)
	}
	n := binary.LittleEndian.Uint64(lb[:])
	if n == 0 || n > MaxHeaderLen {
		return nil, fmt.Errorf("%w: header length %d out of range [1, %d]", ErrFormat, n, MaxHeaderLen)
	}
	if int64(n) > size-8 {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d bytes after it (truncated?)", ErrFormat, n, size-8)
	}
	hdr := make([]byte, n)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("%w: reading header: %v", ErrFormat, err)
	}
	if hdr[0] != '{' {
		return nil, fmt.Errorf("%w: header does not start with '{'", ErrFormat)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("%w: header JSON: %v", ErrFormat, err)
	}
	f := &File{infos: make(map[string]Info, len(raw)), r: r}
	dataStart := 8 + int64(n)
	dataLen := size - dataStart
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("%w: __metadata__ must map strings to strings: %v", ErrFormat, err)
			}
			continue
		}
		var ri rawInfo
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&ri); err != nil {
			return nil, fmt.Errorf("%w: tensor %q: %v", ErrFormat, name, err)
		}
		w, ok := dtypeSize[ri.DType]
		if !ok {
			return nil, fmt.Errorf("%w: tensor %q: unknown dtype %q", ErrFormat, name, ri.DType)
		}
		numel := int64(1)
		shape := make([]int, len(ri.Shape))
		for i, d := range ri.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%w: tensor %q: negative dimension in shape %v", ErrFormat, name, ri.Shape)
			}
			shape[i] = int(d)
		}
		for _, d := range ri.Shape {
			if d == 0 {
				numel = 0
				break
			}
			// A tensor can never hold more elements than the buffer has bytes,
			// which also keeps the product far from overflowing.
			if numel > dataLen/d {
				return nil, fmt.Errorf("%w: tensor %q: shape %v needs more than the %d-byte buffer", ErrFormat, name, ri.Shape, dataLen)
			}
			numel *= d
		}
		b, e := ri.Offsets[0], ri.Offsets[1]
		if b < 0 || e < b || e > dataLen {
			return nil, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] outside the %d-byte buffer", ErrFormat, name, b, e, dataLen)
		}
		if e-b != numel*int64(w) {
			return nil, fmt.Errorf("%w: tensor %q: %d bytes for shape %v of %s (want %d)", ErrFormat, name, e-b, ri.Shape, ri.DType, numel*int64(w))
		}
		f.infos[name] = Info{Name: name, DType: ri.DType, Shape: shape, Begin: dataStart + b, End: dataStart + e, NumElem: numel}
		f.names = append(f.names, name)
	}
	// Tensors must tile the buffer: no overlap, no gap, no trailing bytes.
	sort.Slice(f.names, func(i, j int) bool {
		a, b := f.infos[f.names[i]], f.infos[f.names[j]]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.End < b.End
	})
	pos := dataStart
	for _, nm := range f.names {
		in := f.infos[nm]
		if in.Begin != pos {
			return nil, fmt.Errorf("%w: tensor %q starts at buffer offset %d, want %d (overlap or gap)", ErrFormat, nm, in.Begin-dataStart, pos-dataStart)
		}
		pos = in.End
	}
	if pos != size {
		return nil, fmt.Errorf("%w: tensors cover %d of %d buffer bytes", ErrFormat, pos-dataStart, dataLen)
	}
	sort.Strings(f.names)
	return f, nil
}

// Names returns the tensor names, sorted.
func (f *File) Names() []string { return append([]string(nil), f.names...) }

// Info returns the description of tensor name.
func (f *File) Info(name string) (Info, bool) {
	in, ok := f.infos[name]
	return in, ok
}

// Float32 returns the values of tensor name converted to float32 (from
// F32, F16, BF16 or F64) and its shape.
func (f *File) Float32(name string) ([]float32, []int, error) {
	in, raw, err := f.raw(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float32, in.NumElem)
	switch in.DType {
	case "F32":
		format.DecodeLE(format.F32, raw, out)
	case "F16":
		format.DecodeLE(format.F16, raw, out)
	case "BF16":
		format.DecodeLE(format.BF16, raw, out)
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return nil, nil, fmt.Errorf("safetensors: tensor %q has dtype %s; only F32, F16, BF16 and F64 are converted", name, in.DType)
	}
	return out, in.Shape, nil
}

// Float64 is Float32 widened to float64 (F64 tensors keep full precision).
func (f *File) Float64(name string) ([]float64, []int, error) {
	if in, ok := f.infos[name]; ok && in.DType == "F64" {
		_, raw, err := f.raw(name)
		if err != nil {
			return nil, nil, err
		}
		out := make([]float64, in.NumElem)
		for i := range out {
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		return out, in.Shape, nil
	}
	v, shape, err := f.Float32(name)
	if err != nil {
		return nil, nil, err
	}
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out, shape, nil
}

func (f *File) raw(name string) (Info, []byte, error) {
	in, ok := f.infos[name]
	if !ok {
		return Info{}, nil, fmt.Errorf("safetensors: no tensor %q (have %d tensors)", name, len(f.names))
	}
	raw := make([]byte, in.End-in.Begin)
	if _, err := f.r.ReadAt(raw, in.Begin); err != nil && !(errors.Is(err, io.EOF) && len(raw) == 0) {
		return Info{}, nil, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	return in, raw, nil
}
