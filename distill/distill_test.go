package distill

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/llama2c"
)

func tinyOptions(t *testing.T) Options {
	t.Helper()
	m, tok, err := llama2c.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var seqs [][]int
	for _, s := range []string{"Once upon a time, there was a little dog named Max. He liked to run.",
		"Lily saw a big red ball in the park. She was happy and played all day.",
		"Tom and Sue went to the store to buy some milk and bread."} {
		ids, err := tok.Encode(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, ids)
	}
	return Options{Teacher: m, Train: seqs, Evals: []EvalSet{{Name: "train", Seqs: seqs}}, Starts: []string{StartDirect, StartRandom},
		Budgets: []int{0, 8}, Batch: 3, MaxLen: 32, LR: 2e-3, Clip: 1, Seed: 1, Workers: 2, CalibValues: 2000}
}

// TestRunLowersKL: distillation lowers the KL to the teacher from every
// start, and the saved checkpoint round-trips and runs.
func TestRunLowersKL(t *testing.T) {
	opt := tinyOptions(t)
	if testing.Short() {
		t.Skip("8 training steps of stories260K: too slow for the -race -short pass")
	}
	res, err := Run(opt)
	if err != nil {
		t.Fatal(err)
	}
	kl := map[string][]float64{}
	for _, r := range res.Rows {
		kl[r.Start] = append(kl[r.Start], r.KL)
	}
	for s, v := range kl {
		if len(v) != 2 || !(v[1] < v[0]) {
			t.Errorf("start %s: KL at budgets %v: %v (want lower after training)", s, opt.Budgets, v)
		}
	}
	best, err := res.Best("train")
	if err != nil {
		t.Fatal(err)
	}
	paths, err := res.Save(best, filepath.Join(t.TempDir(), "q2"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := llama2c.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := got.Write(&a); err != nil {
		t.Fatal(err)
	}
	if err := res.Final[best].Model().Write(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("saved checkpoint differs from the trained weights")
	}
	for l, p := range paths[1:] {
		act, err := approx.ReadActivationFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if act.Degree != 2 || act.Coefficients[2] != res.Final[best].Gate[l][2] {
			t.Errorf("layer %d activation %+v", l, act)
		}
	}
	var md strings.Builder
	if err := res.WriteMarkdown(&md, opt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), fmt.Sprintf("| direct | %d |", opt.Budgets[1])) {
		t.Errorf("markdown lacks the direct row:\n%s", md.String())
	}
}

func TestValidate(t *testing.T) {
	base := tinyOptions(t)
	for name, mod := range map[string]func(*Options){
		"start":   func(o *Options) { o.Starts = []string{"nope"} },
		"budgets": func(o *Options) { o.Budgets = []int{5, 5} },
		"lr":      func(o *Options) { o.LR = 0 },
		"maxlen":  func(o *Options) { o.MaxLen = 1 },
		"batch":   func(o *Options) { o.Batch = 0 },
		"workers": func(o *Options) { o.Workers = 0 },
	} {
		o := base
		mod(&o)
		if _, err := Run(o); err == nil {
			t.Errorf("%s: bad options accepted", name)
		}
	}
}

// tinyModel is a random 2-layer model (dim 8, FFN width 8, vocabulary 13).
func tinyModel(seed uint64) *llama2c.Model {
	rng := rand.New(rand.NewPCG(seed, 3))
	c := llama2c.Config{Dim: 8, HiddenDim: 8, NLayers: 2, NHeads: 2, NKVHeads: 1, VocabSize: 13, SeqLen: 16, SharedClassifier: true}
	r := func(n int, s, off float64) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(off + rng.NormFloat64()*s)
		}
		return out
	}
	d, h, kv := c.Dim, c.HiddenDim, c.KVDim()
	m := &llama2c.Model{Config: c, TokenEmbedding: r(c.VocabSize*d, 1, 0), RMSFinal: r(d, 0.1, 1)}
	m.Classifier = m.TokenEmbedding
	for range c.NLayers {
		m.Layers = append(m.Layers, llama2c.Layer{RMSAtt: r(d, 0.1, 1), WQ: r(d*d, 0.4, 0), WK: r(kv*d, 0.4, 0), WV: r(kv*d, 0.4, 0), WO: r(d*d, 0.3, 0),
			RMSFFN: r(d, 0.1, 1), W1: r(h*d, 0.4, 0), W2: r(d*h, 0.3, 0), W3: r(h*d, 0.4, 0)})
	}
	for t := range c.SeqLen {
		for j := range c.HeadSize() / 2 {
			f := float64(t) / math.Pow(10000, float64(2*j)/float64(c.HeadSize()))
			m.FreqCisReal = append(m.FreqCisReal, float32(math.Cos(f)))
			m.FreqCisImag = append(m.FreqCisImag, float32(math.Sin(f)))
		}
	}
	return m
}

// TestEncryptedFFN: with every FFN under CKKS the model predicts what it
// predicts in plaintext.
func TestEncryptedFFN(t *testing.T) {
	m := tinyModel(1)
	teacher := llama2c.NewWeights(m)
	student := llama2c.NewWeights(m)
	for l := range student.Gate {
		student.Gate[l] = []float64{0.02, 0.5, 0.2}
	}
	seqs := [][]int{{1, 5, 7, 2, 9, 12, 0}, {3, 3, 4, 8}, {6}}
	res, err := Encrypted(student, teacher, seqs, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tokens != 9 || res.Sequences != 2 || len(res.MaxErr) != m.NLayers {
		t.Fatalf("result %+v", res)
	}
	for l, e := range res.MaxErr {
		if !(e < 1e-3) {
			t.Errorf("layer %d: encrypted FFN error %g", l, e)
		}
	}
	if res.VsPlain.Top1Agreement != 1 || res.VsPlain.KL > 1e-6 {
		t.Errorf("encrypted vs plaintext: %+v", res.VsPlain)
	}
	if res.VsTeacher.KL == 0 {
		t.Error("the student equals the teacher: the test cannot tell them apart")
	}
	student.Gate[0] = nil
	if _, err := Encrypted(student, teacher, seqs, 0, 1); err == nil {
		t.Error("a SiLU layer was accepted for encryption")
	}
}

// TestEncryptedHeadroom: a preset whose last level cannot carry a layer's
// FFN outputs is refused before any key is made, naming the layer, rather
// than decrypting wrapped-around values.
func TestEncryptedHeadroom(t *testing.T) {
	m := tinyModel(1)
	student := llama2c.NewWeights(m)
	for l := range student.Gate {
		student.Gate[l] = []float64{0.02, 0.5, 0.2}
	}
	last := student.NLayers - 1
	for i := range student.Layers[last].W2 {
		student.Layers[last].W2[i] *= 100
	}
	seqs := [][]int{{1, 5, 7, 2, 9, 12, 0}, {3, 3, 4, 8}}
	_, err := Encrypted(student, llama2c.NewWeights(m), seqs, 13, 1)
	var hr *HeadroomError
	if !errors.As(err, &hr) {
		t.Fatalf("logN 13 with outputs scaled ×100: err %v, want a *HeadroomError", err)
	}
	if hr.Layer != last || hr.Preset != "N13-L5" || !(hr.MaxAbs > hr.Bound/2) || math.Abs(math.Log2(hr.Bound)-2) > 0.1 {
		t.Errorf("refusal %+v: want layer %d, preset N13-L5, bound ≈ 4 below |y|", hr, last)
	}
	for _, c := range []struct {
		max  []float64
		fail int
	}{{[]float64{1, 2}, -1}, {[]float64{1, 2.01}, 1}, {[]float64{3, 1, 5}, 2}, {[]float64{math.NaN(), 9}, 0}, {nil, -1}} {
		err := CheckHeadroom("P", 13, 4, c.max)
		if c.fail < 0 {
			if err != nil {
				t.Errorf("CheckHeadroom(%v): %v", c.max, err)
			}
			continue
		}
		if !errors.As(err, &hr) || hr.Layer != c.fail {
			t.Errorf("CheckHeadroom(%v) = %v, want a refusal naming layer %d", c.max, err, c.fail)
		}
	}
}
