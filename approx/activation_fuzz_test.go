package approx

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseSource: any --data specification parses to a source or an
// error, never a panic.
func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"normal", "normal:0,1", "uniform:-1,1", "laplace:1", "t:3", "mix:0.5*normal:0,1+0.5*laplace:2", "t:0", "uniform:1,-1", "normal:NaN,1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseSource(s)
	})
}

// FuzzReadSampleText: a --data sample file in the text format reads to
// finite values that survive a write-and-read round trip, or to an error,
// never a panic; NewSample then validates them the way LoadSample does.
func FuzzReadSampleText(f *testing.F) {
	for _, s := range []string{"1 2 3\n", "# comment\n-0.5\t1e-3 # tail\n", "1e400\n", "NaN\n", "+Inf", "0x1p-2 1_0", "1,2", "\n\n  \n", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		x, err := readSampleText(strings.NewReader(s), "fuzz.txt")
		if err != nil {
			return
		}
		var b strings.Builder
		for _, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite value %v accepted", v)
			}
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64) + "\n")
		}
		y, err := readSampleText(strings.NewReader(b.String()), "again.txt")
		if err != nil || len(y) != len(x) {
			t.Fatalf("round trip: %d values, then %d (%v)", len(x), len(y), err)
		}
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				t.Fatalf("value %d: %v then %v", i, x[i], y[i])
			}
		}
		_, _ = NewSample("fuzz.txt", x)
	})
}
