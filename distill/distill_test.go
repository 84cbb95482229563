package distill

import (
	"bytes"
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
			t.Errorf("start %s: KL at budgets 0, 8: %v (want lower after training)", s, v)
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
	if !strings.Contains(md.String(), "| direct | 8 |") {
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
