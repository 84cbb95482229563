package format

import (
	"encoding/binary"
	"math"
)

// Float16 converts an IEEE 754 binary16 value to float32 exactly
// (subnormals, infinities and NaN included).
func Float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		// Zero or subnormal: mant·2⁻²⁴, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// BFloat16 converts a bfloat16 value (the upper half of a float32) to
// float32 exactly.
func BFloat16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Encoding is the element type of little-endian tensor data that the
// checkpoint readers (safetensors, GGUF) convert to float32.
type Encoding int

// The encodings DecodeLE converts, each exactly.
const (
	F32 Encoding = iota
	F16
	BF16
)

// DecodeLE fills out with the len(out) little-endian values of encoding e
// at the start of raw, which must hold them.
func DecodeLE(e Encoding, raw []byte, out []float32) {
	switch e {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = Float16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BFloat16(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
}
