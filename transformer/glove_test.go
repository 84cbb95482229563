package transformer

import (
	"math"
	"testing"

	"github.com/krelu/krelu/internal/shareddata"
)

// TestReadGloVeReal reads the real 300 MB file — only its head, since the
// vectors are sorted by frequency and reading stops once all wanted words
// are found — and checks the vectors of a few sentiment words.
func TestReadGloVeReal(t *testing.T) {
	p, err := shareddata.GloVeFile()
	if err != nil {
		t.Fatal(err) // scripts/setup.sh installs it; a missing file is a failure, not a skip
	}
	m, err := ReadGloVeFile(p, map[string]bool{"good": true, "bad": true, "great": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 {
		t.Fatalf("found %d of 3 common words", len(m))
	}
	cos := func(a, b []float64) float64 {
		var ab, aa, bb float64
		for i := range a {
			ab += a[i] * b[i]
			aa += a[i] * a[i]
			bb += b[i] * b[i]
		}
		return ab / math.Sqrt(aa*bb)
	}
	if c1, c2 := cos(m["good"], m["great"]), cos(m["good"], m["bad"]); !(c1 > 0.6 && c2 > 0.5) {
		t.Errorf("cos(good, great) = %.3f, cos(good, bad) = %.3f: not GloVe-like", c1, c2)
	}
}
