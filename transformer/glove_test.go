package transformer

import (
	"math"
	"strings"
	"testing"

	"github.com/krelu/krelu/internal/shareddata"
)

func vec100() string {
	s := make([]string, 102)
	for i := range s[:100] {
		s[i] = "0"
	}
	s[0] = "1.5"
	s[99] = "-2"
	s[100], s[101] = "5", "7"
	return "[" + strings.Join(s, ",") + "]"
}

func TestReadGloVeSmall(t *testing.T) {
	doc := `{"precision":8,"words":["good","bad","film"],"vectors":{"good":` + vec100() + `,"bad":` + vec100() + `,"film":` + vec100() + `},"unkVector":[0]}`
	m, err := ReadGloVe(strings.NewReader(doc), map[string]bool{"good": true, "film": true, "absent": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || len(m["good"]) != GloVeDim || m["film"][0] != 1.5 || m["film"][99] != -2 {
		t.Errorf("got %d vectors: %v", len(m), m["film"][:3])
	}
	for _, c := range []struct{ doc, want string }{
		{`{"words":[]}`, "no \"vectors\""},
		{`{"vectors":{"good":[1,2,3]}}`, "has 3 values"},
		{`{"vectors":{"good":` + vec100(), "EOF"},
		{`[1,2]`, `want "{"`},
	} {
		_, err := ReadGloVe(strings.NewReader(c.doc), map[string]bool{"good": true, "bad": true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadGloVe(%.40q): error %v, want %q", c.doc, err, c.want)
		}
	}
}

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
