package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"time"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/transformer"
)

// ffnBlock exports the tail of m's last encoder layer — W1 → act → W2 +
// residual → mean pooling → classifier — in henn's column-vector form.
func ffnBlock(m *transformer.Model) henn.FFNBlock {
	b := m.Blocks[len(m.Blocks)-1].FFN
	return henn.FFNBlock{
		Dim:        m.Cfg.Dim,
		W1:         henn.Dense{W: transposed(b.In.W), B: append([]float64(nil), b.In.B.W...)},
		Act:        henn.Poly{Coeffs: m.Act.Poly},
		W2:         henn.Dense{W: transposed(b.Out.W), B: append([]float64(nil), b.Out.B.W...)},
		Residual:   true,
		Classifier: henn.Dense{W: transposed(m.Cls.W), B: append([]float64(nil), m.Cls.B.W...)},
	}
}

// transposed returns the C×R matrix of p (stored R×C, row vectors times p).
func transposed(p *transformer.Param) [][]float64 {
	out := make([][]float64, p.C)
	for j := range out {
		out[j] = make([]float64, p.R)
		for i := range out[j] {
			out[j][i] = p.W[i*p.C+j]
		}
	}
	return out
}

func sst2Infer(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 infer", stderr)
	var d sst2Data
	d.register(fs, false)
	model := fs.String("m", "", "model file (required)")
	actFlag := fs.String("activation", "", "replace the FFN activation (degree 2 for --encrypted): square or an activation JSON file")
	encrypted := fs.Bool("encrypted", false, "evaluate the last block's FFN, pooling and classifier under CKKS")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines for one encrypted evaluation")
	logN := fs.Int("logn", 0, "force the CKKS ring degree (0: smallest secure)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	s, ds, err := loadModelAndDev(*model, &d, stderr)
	if err != nil {
		return err
	}
	m := s.Model
	if *actFlag != "" {
		if m.Act, err = parseActivation(*actFlag); err != nil {
			return err
		}
	}
	if m.Act.IsReLU() {
		return fmt.Errorf("sst2 infer: model %s uses ReLU; give a polynomial with --activation (e.g. one written by 'krelu sst2 swap -write DIR')", *model)
	}
	block := ffnBlock(m)
	if _, _, err := block.Validate(); err != nil {
		return err
	}
	// The client's share of the work: everything up to the last FFN input.
	sentences := make([][][]float64, len(ds.IDs))
	plain := make([]int, len(ds.IDs))
	correct := 0
	var maxTail float64
	for i, ids := range ds.IDs {
		c, err := m.Forward(ids)
		if err != nil {
			return fmt.Errorf("dev sentence %d: %w", i, err)
		}
		h := c.FFNInput()
		t, _ := h.Dims()
		sentences[i] = make([][]float64, t)
		for j := range t {
			sentences[i][j] = append([]float64(nil), h.RawRowView(j)...)
		}
		plain[i] = argmax(c.Logits)
		if plain[i] == ds.Labels[i] {
			correct++
		}
		// The exported block must reproduce the model exactly in plaintext.
		lg, err := block.Forward(sentences[i])
		if err != nil {
			return err
		}
		for k := range lg {
			maxTail = math.Max(maxTail, math.Abs(lg[k]-c.Logits[k]))
		}
	}
	if maxTail > 1e-8 {
		return fmt.Errorf("sst2 infer: exported FFN block differs from the model by %g in the logits", maxTail)
	}
	n := len(ds.IDs)
	fmt.Fprintf(stdout, "activation %v\n", m.Act)
	fmt.Fprintf(stdout, "plaintext dev accuracy %.4f (%d sentences)\n", float64(correct)/float64(n), n)
	if !*encrypted {
		return nil
	}
	start := time.Now()
	cpu0, cpuOK := processCPU()
	logits, st, err := henn.RunFFN(block, sentences, henn.Options{LogN: *logN, MaxTokens: m.Cfg.MaxLen, Workers: *workers})
	if err != nil {
		return err
	}
	total := time.Since(start)
	cpu1, _ := processCPU()
	agree, encCorrect := 0, 0
	var maxDiff float64
	for i, lg := range logits {
		c, _ := m.Forward(ds.IDs[i])
		for k := range lg {
			maxDiff = math.Max(maxDiff, math.Abs(lg[k]-c.Logits[k]))
		}
		p := argmax(lg)
		if p == plain[i] {
			agree++
		}
		if p == ds.Labels[i] {
			encCorrect++
		}
	}
	fmt.Fprintf(stdout, "CKKS: preset %s, logN %d, %d slots, depth %d, %d rotation keys, %d sentence(s) per ciphertext\n",
		st.Preset, st.LogN, st.Slots, st.Depth, st.Rotations, st.PerCiphertext)
	fmt.Fprintf(stdout, "encrypted dev accuracy %.4f, agreement with plaintext %.4f (%d/%d), max |logit error| %.2e\n",
		float64(encCorrect)/float64(n), float64(agree)/float64(n), agree, n, maxDiff)
	fmt.Fprintf(stdout, "latency per sentence %.3fs (encrypt+evaluate+decrypt, %d workers); amortized %.3fs; keygen %.2fs; total %.1fs\n",
		st.Latency.Seconds(), *workers, st.PerInput.Seconds(), st.KeyGen.Seconds(), total.Seconds())
	if cpuOK {
		fmt.Fprintf(stdout, "process CPU time %.1fs for %d sentences (incl. keygen): %.3fs per sentence\n",
			(cpu1 - cpu0).Seconds(), n, (cpu1-cpu0).Seconds()/float64(n))
	}
	return nil
}
