package distill

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/llama2c"
)

// Best returns the start whose run ends closest to the teacher — the
// lowest mean KL — on the eval set named text (ties: the first). Not the
// lowest perplexity: a student can beat the teacher's perplexity on text
// unlike its training text while imitating it worse.
func (r *Result) Best(text string) (string, error) {
	last := -1
	for _, row := range r.Rows {
		last = max(last, row.Steps)
	}
	best, bp := "", math.Inf(1)
	for _, row := range r.Rows {
		if row.Text == text && row.Steps == last && row.KL < bp {
			best, bp = row.Start, row.KL
		}
	}
	if best == "" {
		return "", fmt.Errorf("distill: no finite result on %q", text)
	}
	return best, nil
}

// Save writes the final weights of start as a llama2.c checkpoint
// base+".bin" and its per-layer quadratics as krelu.activation/v1 files
// base+".L{l}.json" (llama2.c's format has no field for the activation;
// `krelu generate --model base.bin --activation base.L0.json,…` runs it).
// It returns the written paths.
func (r *Result) Save(start, base string) ([]string, error) {
	w, ok := r.Final[start]
	if !ok {
		return nil, fmt.Errorf("distill: no run for start %q", start)
	}
	var st *Start
	for i := range r.Starts {
		if r.Starts[i].Name == start {
			st = &r.Starts[i]
		}
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return nil, err
	}
	paths := []string{base + ".bin"}
	if err := w.Model().WriteFile(paths[0]); err != nil {
		return nil, err
	}
	for l, c := range w.Gate {
		a := &approx.Activation{Format: approx.FormatV1, Target: "silu", Kernel: "none", Method: "distilled",
			Degree: len(c) - 1, Interval: st.Interval[l], Coefficients: c,
			Calibration: approx.Calibration{Source: fmt.Sprintf("distilled from start %s, layer %d", start, l)}}
		p := fmt.Sprintf("%s.L%d.json", base, l)
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		err = a.WriteJSON(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// Sample returns the greedy continuation of prompt (steps positions) by
// the teacher and by each run's final student.
func (r *Result) Sample(teacher *llama2c.Model, tok *llama2c.Tokenizer, prompt string, steps int) (map[string]string, error) {
	out := map[string]string{}
	text, _, err := llama2c.Generate(teacher, tok, llama2c.GenerateOptions{Steps: steps, Prompt: prompt})
	if err != nil {
		return nil, err
	}
	out["original (SiLU)"] = text
	for name, w := range r.Final {
		text, _, err := llama2c.Generate(w.Model(), tok, llama2c.GenerateOptions{Steps: steps, Prompt: prompt, Activations: w.GateFuncs()})
		if err != nil {
			text = fmt.Sprintf("(%v)", err)
		}
		out[name] = text
	}
	return out, nil
}

func median(x []float64) (med, lo, hi float64) {
	if len(x) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	q := func(p float64) float64 { return s[int(math.Round(p*float64(len(s)-1)))] }
	return q(0.5), q(0.1), q(0.9)
}

// WriteMarkdown prints the comparison: per eval set one table of every
// start and budget, the starting quadratics, and the step timings.
func (r *Result) WriteMarkdown(w io.Writer, opt Options) error {
	var b strings.Builder
	for _, e := range opt.Evals {
		fmt.Fprintf(&b, "#### Held-out %s\n\n", e.Name)
		fmt.Fprintln(&b, "| start | steps | perplexity | teacher perplexity | ratio | top-1 agreement | KL mean | KL max | diverged | train KL |")
		fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, st := range r.Starts {
			for _, row := range r.Rows {
				if row.Text != e.Name || row.Start != st.Name {
					continue
				}
				fmt.Fprintf(&b, "| %s | %d | %.4g | %.4g | %.3f | %.4f | %.4g | %.3g | %d | %.3g |\n", row.Start, row.Steps, row.Perplexity, row.RefPerplexity,
					row.Perplexity/row.RefPerplexity, row.Top1Agreement, row.KL, row.KLMax, row.Diverged, row.TrainKL)
			}
		}
		fmt.Fprintf(&b, "\n%d predictions in %d sequences.\n\n", r.positions(e.Name), len(e.Seqs))
	}
	fmt.Fprintln(&b, "#### Starting quadratics (layer 0 … last; p(x) = c0 + c1·x + c2·x²) and after training")
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "| start | h per layer | start coefficients per layer | final coefficients per layer |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	for _, st := range r.Starts {
		h := "-"
		if len(st.H) > 0 && st.H[0] > 0 {
			h = fmtList(st.H)
		}
		var fin []string
		if fw, ok := r.Final[st.Name]; ok {
			for _, c := range fw.Gate {
				fin = append(fin, fmtList(c))
			}
		}
		var sc []string
		for _, c := range st.Gate {
			sc = append(sc, fmtList(c))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", st.Name, h, strings.Join(sc, " "), strings.Join(fin, " "))
	}
	if r.Stopped != "" {
		fmt.Fprintf(&b, "\n**Training %s.**\n", r.Stopped)
	}
	med, lo, hi := median(r.StepSeconds)
	fmt.Fprintf(&b, "\nTraining: %d steps in all, batch %d sequences of ≤ %d tokens, Adam lr %g, clip %g, CE weight %g, %d goroutines; %.3g s/step median (p10 %.3g, p90 %.3g) on a shared machine.\n",
		len(r.StepSeconds), opt.Batch, opt.MaxLen, opt.LR, opt.Clip, opt.CE, opt.Workers, med, lo, hi)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Result) positions(text string) int {
	for _, row := range r.Rows {
		if row.Text == text {
			return row.Positions
		}
	}
	return 0
}

func fmtList(x []float64) string {
	s := make([]string, len(x))
	for i, v := range x {
		s[i] = fmt.Sprintf("%.3g", v)
	}
	return "[" + strings.Join(s, ", ") + "]"
}
