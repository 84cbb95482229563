package henn

import (
	"errors"
	"fmt"
	"time"
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
	logits := make([][]float64, len(sentences))
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
		if logits[i], err = client.DecryptEncoderLogits(m.Layout(), out); err != nil {
			return nil, nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		st.Latencies = append(st.Latencies, time.Since(t))
		st.InputBytes, st.OutputBytes = in.BinarySize(), int64(out.BinarySize())
	}
	st.CPU = cpuTime() - cpu0
	return logits, st, nil
}
