package main

import (
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/krelu/krelu/henn"
	lg "github.com/krelu/krelu/internal/logits"
	"github.com/krelu/krelu/transformer"
)

func sst2Infer(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sst2 infer", stderr)
	var d sst2Data
	d.register(fs, false)
	model := modelFlag(fs, "model file (required)")
	actFlag := fs.String("activation", "", "replace the FFN activation (degree 2 for --encrypted): square or an activation JSON file")
	encrypted := fs.Bool("encrypted", false, "evaluate under CKKS: the whole encoder for HE-friendly models, else the last block's FFN, pooling and classifier")
	asJSON := fs.Bool("json", false, "print the report as JSON (HE-friendly models)")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "goroutines for one encrypted evaluation, 1..256")
	logN := fs.Int("logn", 0, logNHelp)
	setUsage(fs, stderr, "krelu sst2 infer --model MODEL [--dev TSV] [--dev-offset K] [--dev-limit N] [--activation square|FILE.json] [--encrypted [--logn 0] [--workers N]] [--json]",
		"An HE-friendly model (sst2 train --he-friendly) runs whole under CKKS: the client looks up the\n"+
			"token and position embeddings, encrypts the token matrix and a length mask, and decrypts the\n"+
			"logits; unknown words map to the UNK token (a zero embedding). Other models run the last\n"+
			"block's FFN, pooling and classifier under CKKS, the rest in plaintext on the client.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := firstErr(intRange("workers", *workers, 1, 256), checkLogN(*logN)); err != nil {
		return err
	}
	if err := firstErr(needs(fs, "workers", *encrypted, "--encrypted"), needs(fs, "logn", *encrypted, "--encrypted")); err != nil {
		return err
	}
	s, ds, _, err := loadModelAndDev(fs, *model, &d, stderr)
	if err != nil {
		return err
	}
	m := s.Model
	if *actFlag != "" {
		if m.Act, err = parseActivation(*actFlag); err != nil {
			return err
		}
	}
	if m.Cfg.HEFriendly {
		return sst2InferEncoder(stdout, s, ds, *encrypted, *asJSON, henn.Options{LogN: *logN, Workers: *workers})
	}
	if *asJSON {
		return fmt.Errorf("sst2 infer: --json reports the fully encrypted encoder of HE-friendly models; %s is not one (train with --he-friendly)", *model)
	}
	if m.Act.IsReLU() {
		return fmt.Errorf("sst2 infer: model %s uses ReLU; give a polynomial with --activation (e.g. one written by 'krelu sst2 swap -o DIR')", *model)
	}
	block, err := m.FFNBlock()
	if err != nil {
		return err
	}
	// The client's share of the work: everything up to the last FFN input.
	sentences, plainLogits, err := m.FFNInputs(ds)
	if err != nil {
		return fmt.Errorf("dev %w", err)
	}
	n := len(ds.IDs)
	correct := 0
	var maxTail float64
	for i := range sentences {
		if lg.Argmax(plainLogits[i]) == ds.Labels[i] {
			correct++
		}
		// The exported block must reproduce the model exactly in plaintext.
		lg, err := block.Forward(sentences[i])
		if err != nil {
			return err
		}
		maxTail = math.Max(maxTail, maxAbsDiff(lg, plainLogits[i]))
	}
	if maxTail > 1e-8 {
		return fmt.Errorf("sst2 infer: exported FFN block differs from the model by %g in the logits", maxTail)
	}
	fmt.Fprintf(stdout, "activation %v\n", m.Act)
	fmt.Fprintf(stdout, "plaintext dev accuracy %.4f (%d sentences)\n", float64(correct)/float64(n), n)
	if !*encrypted {
		return nil
	}
	return sst2Encrypted(stdout, block, sentences, plainLogits, ds.Labels,
		henn.Options{LogN: *logN, MaxTokens: m.Cfg.MaxLen, Workers: *workers})
}

// sst2Encrypted runs the exported block under CKKS on the sentences'
// FFN inputs and prints accuracy, agreement with the plaintext logits and
// the costs.
func sst2Encrypted(stdout io.Writer, block henn.FFNBlock, sentences [][][]float64, plainLogits [][]float64, labels []int, opts henn.Options) error {
	start := time.Now()
	cpu0, cpuOK := processCPU()
	logits, st, err := henn.RunFFN(block, sentences, opts)
	if err != nil {
		return err
	}
	total := time.Since(start)
	cpu1, _ := processCPU()
	n := len(sentences)
	agree, encCorrect := 0, 0
	var maxDiff float64
	for i, row := range logits {
		maxDiff = math.Max(maxDiff, maxAbsDiff(row, plainLogits[i]))
		p := lg.Argmax(row)
		if p == lg.Argmax(plainLogits[i]) {
			agree++
		}
		if p == labels[i] {
			encCorrect++
		}
	}
	fmt.Fprintf(stdout, "CKKS: preset %s, logN %d, %d slots, depth %d, %d rotation keys, %d sentence(s) per ciphertext\n",
		st.Preset, st.LogN, st.Slots, st.Depth, st.Rotations, st.PerCiphertext)
	fmt.Fprintf(stdout, "encrypted dev accuracy %.4f, agreement with plaintext %.4f (%d/%d), max |logit error| %.2e\n",
		float64(encCorrect)/float64(n), float64(agree)/float64(n), agree, n, maxDiff)
	fmt.Fprintf(stdout, "latency per sentence %.3fs (encrypt+evaluate+decrypt, %d workers); amortized %.3fs; keygen %.2fs; total %.1fs\n",
		st.Latency.Seconds(), opts.Workers, st.PerInput.Seconds(), st.KeyGen.Seconds(), total.Seconds())
	if cpuOK {
		fmt.Fprintf(stdout, "process CPU time %.1fs for %d sentences (incl. keygen): %.3fs per sentence\n",
			(cpu1 - cpu0).Seconds(), n, (cpu1-cpu0).Seconds()/float64(n))
	}
	return nil
}

// maxAbsDiff is max |a[i] − b[i]|.
func maxAbsDiff(a, b []float64) float64 {
	var m float64
	for i := range a {
		m = math.Max(m, math.Abs(a[i]-b[i]))
	}
	return m
}

// sst2InferEncoder evaluates an HE-friendly model's exported encoder on the
// dev set: in plaintext, or (encrypted) whole under CKKS with only the
// embedding lookup on the client.
func sst2InferEncoder(stdout io.Writer, s *transformer.Saved, ds *transformer.Dataset, encrypted, asJSON bool, opts henn.Options) error {
	m := s.Model
	e, err := m.Encoder()
	if err != nil {
		return err
	}
	sentences := make([][][]float64, len(ds.IDs))
	for i, ids := range ds.IDs {
		if sentences[i], err = m.TokenRows(ids); err != nil {
			return fmt.Errorf("dev sentence %d: %w", i, err)
		}
	}
	client := []string{"token embedding lookup (E·P+b, a table)", "position embedding"}
	if !encrypted {
		correct := 0
		for i, x := range sentences {
			y, err := e.Forward(x)
			if err != nil {
				return fmt.Errorf("dev sentence %d: %w", i, err)
			}
			if lg.Argmax(y) == ds.Labels[i] {
				correct++
			}
		}
		acc := float64(correct) / float64(len(sentences))
		if asJSON {
			return writeJSON(stdout, map[string]any{"encrypted": false, "sentences": len(sentences), "accuracy": acc})
		}
		fmt.Fprintf(stdout, "HE-friendly encoder, %d layer(s); plaintext dev accuracy %.4f (%d sentences)\n", len(e.Layers), acc, len(sentences))
		return nil
	}
	r, err := henn.EvalEncoder(e, sentences, ds.Labels, client, opts)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(stdout, struct {
			Encrypted bool `json:"encrypted"`
			*henn.EncoderReport
		}{true, r})
	}
	fmt.Fprintf(stdout, "CKKS: preset %s, logN %d, %d levels, %d rotation keys (%.0f MB of evaluation keys), %d workers\n",
		r.Preset, r.LogN, r.Levels, r.RotationKeys, float64(r.KeyBytes)/1e6, r.Workers)
	fmt.Fprintf(stdout, "server (on ciphertexts): %s\nclient (plaintext): %s\n", strings.Join(r.ServerLayers, ", "), strings.Join(r.ClientLayers, ", "))
	fmt.Fprintf(stdout, "encrypted dev accuracy %.4f (plaintext %.4f), agreement with plaintext %.4f over %d sentences, max |logit error| %.2e\n",
		r.Accuracy, r.PlaintextAccuracy, r.Agreement, r.Sentences, r.MaxLogitError)
	fmt.Fprintf(stdout, "seconds per sentence (encrypt+evaluate+decrypt): median %.2f, min %.2f, max %.2f; CPU %.2f s per sentence; keygen %.1fs\n",
		r.SecondsMedian, r.SecondsMin, r.SecondsMax, r.CPUSecondsPerSent, r.KeyGen.Seconds())
	return nil
}
