package format

import (
	"math"
	"testing"
)

func TestFloat16(t *testing.T) {
	for h, want := range map[uint16]float32{
		0x0000: 0, 0x3c00: 1, 0xbc00: -1, 0x3555: 0.333251953125, 0x7bff: 65504,
		0x0400: 6.103515625e-05, 0x03ff: 6.097555160522461e-05, 0x8001: -5.960464477539063e-08,
	} {
		if got := Float16(h); got != want {
			t.Errorf("Float16(%#04x) = %v, want %v", h, got, want)
		}
	}
	if !math.IsInf(float64(Float16(0x7c00)), 1) || !math.IsInf(float64(Float16(0xfc00)), -1) || !math.IsNaN(float64(Float16(0x7e00))) {
		t.Error("Inf/NaN not preserved")
	}
	if math.Signbit(float64(Float16(0x8000))) != true {
		t.Error("negative zero lost")
	}
	if BFloat16(0x3f80) != 1 || BFloat16(0xc0a0) != -5 {
		t.Error("BFloat16")
	}
}
