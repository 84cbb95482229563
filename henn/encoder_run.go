package henn

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/krelu/krelu/internal/logits"
)

// EncoderStats describes one in-process run of the encrypted encoder.
type EncoderStats struct {
	Preset       string `json:"preset"`
	LogN         int    `json:"log_n"`
	Slots        int    `json:"slots"`
	Levels       int    `json:"levels"` // levels consumed = the level inputs are encrypted at
	RotationKeys int    `json:"rotation_keys"`
	KeyBytes     int64  `json:"evaluation_key_bytes"` // relinearization + Galois keys + public key
	InputBytes   int64  `json:"input_ciphertext_bytes_per_sentence"`
	OutputBytes  int64  `json:"output_ciphertext_bytes_per_sentence"`
	Workers      int    `json:"workers"`

	KeyGen time.Duration `json:"keygen_ns"`
	Setup  time.Duration `json:"server_setup_ns"`
	// Latencies are the encrypt+evaluate+decrypt wall times, one per
	// sentence, in input order.
	Latencies []time.Duration `json:"latencies_ns"`
	// CPU is the process CPU time of the online phase (all sentences).
	CPU time.Duration `json:"cpu_ns"`

	// ServerLayers lists every operation evaluated on ciphertexts,
	// ClientLayers what the client computes in plaintext.
	ServerLayers []string `json:"server_layers"`
	ClientLayers []string `json:"client_layers"`
}

// ServerLayers lists, in order, the operations the server evaluates on
// ciphertexts.
func (m *EncoderModel) ServerLayers() []string {
	var out []string
	for l := range m.layers {
		p := fmt.Sprintf("layer%d.", l)
		out = append(out, p+"Q", p+"K", p+"V", p+"attention scores (q·k+c)²/(n·c²)", p+"attention weighted sum of V",
			p+"O", p+"residual", p+"Norm", p+"FFNIn", p+"activation", p+"FFNOut", p+"residual")
	}
	return append(out, "mean pooling", "classifier")
}

// RunEncoder compiles e, makes a client and a server, and runs every
// sentence (token rows, the client's embedding lookup) through
// encryption, evaluation and decryption in process, one sentence at a
// time. clientLayers names what produced the rows (reported as is).
func RunEncoder(e *Encoder, sentences [][][]float64, clientLayers []string, opts Options) ([][]float64, *EncoderStats, error) {
	if len(sentences) == 0 {
		return nil, nil, errors.New("henn: no sentences")
	}
	m, err := CompileEncoder(e, opts)
	if err != nil {
		return nil, nil, err
	}
	for i, x := range sentences {
		if err := checkTokens(x, e.Dim, e.MaxTokens); err != nil {
			return nil, nil, fmt.Errorf("sentence %d: %w", i, err)
		}
	}
	st := &EncoderStats{Preset: m.Preset(), LogN: m.Params().LogN(), Slots: m.Params().MaxSlots(), Levels: m.Depth(),
		RotationKeys: len(m.Rotations()), Workers: m.workers, ServerLayers: m.ServerLayers(), ClientLayers: clientLayers}
	t0 := time.Now()
	client, err := NewClient(m.Params())
	if err != nil {
		return nil, nil, err
	}
	evk, err := client.EvaluationKeys(m.Rotations())
	if err != nil {
		return nil, nil, err
	}
	st.KeyGen = time.Since(t0)
	st.KeyBytes = evk.Size()
	t0 = time.Now()
	server, err := NewEncoderServer(m, evk)
	if err != nil {
		return nil, nil, err
	}
	st.Setup = time.Since(t0)
	cpu0 := cpuTime()
	res := make([][]float64, len(sentences))
	for i, x := range sentences {
		t := time.Now()
		in, err := client.EncryptEncoderInput(m.Layout(), x)
		if err != nil {
			return nil, nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		out, err := server.Evaluate(in)
		if err != nil {
			return nil, nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		if res[i], err = client.DecryptEncoderLogits(m.Layout(), out); err != nil {
			return nil, nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		st.Latencies = append(st.Latencies, time.Since(t))
		st.InputBytes, st.OutputBytes = in.BinarySize(), int64(out.BinarySize())
	}
	st.CPU = cpuTime() - cpu0
	return res, st, nil
}

// EncoderReport is the outcome of [EvalEncoder].
type EncoderReport struct {
	Sentences         int     `json:"sentences"`
	Accuracy          float64 `json:"accuracy"`           // encrypted predictions vs labels
	PlaintextAccuracy float64 `json:"plaintext_accuracy"` // Encoder.Forward vs labels
	Agreement         float64 `json:"agreement_with_plaintext"`
	MaxLogitError     float64 `json:"max_abs_logit_error"`
	SecondsMedian     float64 `json:"seconds_per_sentence_median"`
	SecondsMin        float64 `json:"seconds_per_sentence_min"`
	SecondsMax        float64 `json:"seconds_per_sentence_max"`
	CPUSecondsPerSent float64 `json:"cpu_seconds_per_sentence"`
	*EncoderStats
}

// EvalEncoder runs e under encryption on sentences (token rows from the
// client's embedding lookup) with their labels and compares each
// prediction with the label and with e.Forward, the plaintext reference.
func EvalEncoder(e *Encoder, sentences [][][]float64, labels []int, clientLayers []string, opts Options) (*EncoderReport, error) {
	if len(labels) != len(sentences) {
		return nil, fmt.Errorf("henn: %d sentences but %d labels", len(sentences), len(labels))
	}
	plain := make([][]float64, len(sentences))
	for i, x := range sentences {
		var err error
		if plain[i], err = e.Forward(x); err != nil {
			return nil, fmt.Errorf("sentence %d: %w", i, err)
		}
	}
	out, st, err := RunEncoder(e, sentences, clientLayers, opts)
	if err != nil {
		return nil, err
	}
	r := &EncoderReport{Sentences: len(sentences), EncoderStats: st}
	var ok, okPlain, agree int
	for i := range out {
		p, q := logits.Argmax(out[i]), logits.Argmax(plain[i])
		if p == labels[i] {
			ok++
		}
		if q == labels[i] {
			okPlain++
		}
		if p == q {
			agree++
		}
		for k := range out[i] {
			r.MaxLogitError = max(r.MaxLogitError, math.Abs(out[i][k]-plain[i][k]))
		}
	}
	n := float64(len(out))
	r.Accuracy, r.PlaintextAccuracy, r.Agreement = float64(ok)/n, float64(okPlain)/n, float64(agree)/n
	secs := make([]float64, len(st.Latencies))
	for i, d := range st.Latencies {
		secs[i] = d.Seconds()
	}
	sort.Float64s(secs)
	r.SecondsMin, r.SecondsMax = secs[0], secs[len(secs)-1]
	r.SecondsMedian = secs[len(secs)/2]
	if len(secs)%2 == 0 {
		r.SecondsMedian = (secs[len(secs)/2-1] + secs[len(secs)/2]) / 2
	}
	r.CPUSecondsPerSent = st.CPU.Seconds() / n
	return r, nil
}
