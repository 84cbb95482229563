package calib

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/krelu/krelu/internal/shareddata"
	"github.com/krelu/krelu/llama2c"
)

func TestSplitDisjointAndDeterministic(t *testing.T) {
	units := make([]int, 100)
	for i := range units {
		units[i] = i
	}
	tr, ho, err := Split(units, 0.2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr) != 80 || len(ho) != 20 {
		t.Fatalf("split %d/%d, want 80/20", len(tr), len(ho))
	}
	all := append(slices.Clone(tr), ho...)
	slices.Sort(all)
	if !slices.Equal(all, units) {
		t.Fatal("split is not a partition")
	}
	tr2, _, _ := Split(units, 0.2, 7)
	if !slices.Equal(tr, tr2) {
		t.Error("split not deterministic")
	}
	if _, _, err := Split(units, 1, 0); err == nil {
		t.Error("frac 1 accepted")
	}
	if _, _, err := Split([]int{1}, 0.5, 0); err == nil {
		t.Error("held out a part of one unit")
	}
}

func TestReservoirUniform(t *testing.T) {
	r := NewReservoir(1000, 1)
	for i := range 100000 {
		r.Add(float64(i))
	}
	s, _ := Summarize(r.Values)
	// Uniform on [0, 1e5): mean 5e4, sd 1e5/√12 ≈ 28868; the sample mean of
	// 1000 draws has sd ≈ 913.
	if r.MaxAbs != 99999 {
		t.Errorf("MaxAbs %v, want 99999", r.MaxAbs)
	}
	if r.Seen != 100000 || s.N != 1000 || math.Abs(s.Mean-5e4) > 4000 || math.Abs(s.Std-28868) > 3000 {
		t.Errorf("reservoir sample: seen %d, %+v", r.Seen, s)
	}
}

func TestSummarize(t *testing.T) {
	s, err := Summarize([]float64{-2, 0, 1, 3, 8})
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 5 || math.Abs(s.Mean-2) > 1e-12 || math.Abs(s.Std-math.Sqrt(78.0/5-4)) > 1e-12 || s.MaxAbs != 8 {
		t.Errorf("%+v", s)
	}
	if q := s.Quantiles[slices.Index(s.Probs, 0.5)]; q != 1 {
		t.Errorf("median %v, want 1", q)
	}
	if q := s.Quantiles[slices.Index(s.Probs, 0.25)]; q != 0 {
		t.Errorf("q25 %v, want 0", q)
	}
	if _, err := Summarize([]float64{1, math.NaN()}); err == nil {
		t.Error("NaN accepted")
	}
}

func TestExtractOnSST2(t *testing.T) {
	p, err := shareddata.Path("sst2", "dev.tsv")
	if err != nil {
		t.Fatalf("real data missing: %v", err)
	}
	sents, err := SST2Sentences(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(sents) != 872 {
		t.Fatalf("%d dev sentences, want 872", len(sents))
	}
	m, tok, err := llama2c.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := Tokenize(m, tok, sents[:6])
	if err != nil {
		t.Fatal(err)
	}
	res := make([]*Reservoir, m.NLayers)
	for l := range res {
		res[l] = NewReservoir(0, 1)
	}
	npos, err := FFNPreActivations(m, seqs, res)
	if err != nil {
		t.Fatal(err)
	}
	for l, r := range res {
		if len(r.Values) != npos*m.HiddenDim {
			t.Fatalf("layer %d: %d values for %d positions", l, len(r.Values), npos)
		}
		s, _ := Summarize(r.Values)
		if !(s.Std > 0.05 && s.MaxAbs < 100) {
			t.Errorf("layer %d: implausible pre-activations %+v", l, s)
		}
	}
	e := NewReservoir(0, 1)
	ntok, err := EmbeddingValues(m, seqs, e)
	if err != nil {
		t.Fatal(err)
	}
	if ntok != npos-len(seqs) || len(e.Values) != ntok*m.Dim {
		t.Errorf("%d embedding values for %d tokens (%d positions)", len(e.Values), ntok, npos)
	}
	tr, ho := NewReservoir(0, 1), NewReservoir(0, 1)
	if err := EmbeddingRows(m, 0.25, 3, tr, ho); err != nil {
		t.Fatal(err)
	}
	if len(tr.Values) != 384*64 || len(ho.Values) != 128*64 {
		t.Errorf("embedding rows split %d/%d values", len(tr.Values), len(ho.Values))
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	for _, s := range []string{"x\ty\n", "sentence\tlabel\nfoo\t2\n", "sentence\tlabel\n"} {
		if _, err := SST2Sentences(write("a.tsv", s)); err == nil {
			t.Errorf("ReadSST2 accepted %q", s)
		}
	}
	if _, err := ReadLines(write("b.txt", "\n  \n")); err == nil {
		t.Error("ReadLines accepted a blank file")
	}
	l, err := ReadLines(write("c.txt", " a b \n\nc\n"))
	if err != nil || !slices.Equal(l, []string{"a b", "c"}) {
		t.Errorf("ReadLines = %q, %v", l, err)
	}
}

func ExampleSummarize() {
	s, _ := Summarize([]float64{-1, 0, 1, 2})
	fmt.Printf("n=%d mean=%.2f std=%.3f max|x|=%.0f\n", s.N, s.Mean, s.Std, s.MaxAbs)
	// Output: n=4 mean=0.50 std=1.118 max|x|=2
}
