package henn

import (
	"errors"
	"fmt"
	"time"
)

// Stats describes one in-process client/server run.
type Stats struct {
	Mode          string `json:"mode"`
	Preset        string `json:"preset"`
	LogN          int    `json:"log_n"`
	Slots         int    `json:"slots"`
	Depth         int    `json:"depth"`
	Inputs        int    `json:"inputs"`
	PerCiphertext int    `json:"inputs_per_ciphertext"`
	Rotations     int    `json:"rotation_keys"`

	KeyGen   time.Duration `json:"keygen_ns"`
	Setup    time.Duration `json:"server_setup_ns"` // encoding the diagonals
	Encrypt  time.Duration `json:"encrypt_ns"`
	Evaluate time.Duration `json:"evaluate_ns"`
	Decrypt  time.Duration `json:"decrypt_ns"`
	// Latency is the encrypt+evaluate+decrypt time of a single input, in
	// Packed (networks) or Tokens (FFN) mode.
	Latency time.Duration `json:"latency_single_ns"`
	// PerInput is (Encrypt+Evaluate+Decrypt)/Inputs for the whole run.
	PerInput time.Duration `json:"amortized_per_input_ns"`
	// CPU is the process CPU time (user+system) of the online phase, from
	// the first encryption to the last decryption (key generation and
	// server setup excluded). On a shared machine wall-clock figures
	// overstate the cost; CPU/cores is what fully parallel work takes on
	// idle cores.
	CPU time.Duration `json:"cpu_ns"`

	InputBytes  int64 `json:"input_ciphertext_bytes"`  // all encrypted inputs
	OutputBytes int64 `json:"output_ciphertext_bytes"` // all encrypted outputs
	KeyBytes    int64 `json:"evaluation_key_bytes"`    // relinearization + Galois keys
	// LatencyKeyBytes are the keys of the latency run when it used another
	// layout (Mode Auto), else 0.
	LatencyKeyBytes int64 `json:"latency_evaluation_key_bytes,omitempty"`
}

// chunkInputs is about how many inputs are encrypted, evaluated and
// decrypted at a time (rounded up to whole ciphertext groups): it bounds
// memory (10,000 MNIST images at once in the Slots layout would be about
// a gigabyte of ciphertexts) without changing per-input costs.
var chunkInputs = 256 // a variable for the test of several chunks

// Run compiles net, makes a client and a server, and runs inputs through
// encryption, evaluation and decryption in process. With opts.Mode = Auto
// the batch runs in the Slots layout and Stats.Latency comes from an extra
// single-input Packed run with Replicate; otherwise Latency is the first group's round
// trip in the chosen mode (one input per group in Packed mode when
// len(inputs) = 1).
func Run(net Network, inputs [][]float64, opts Options) ([][]float64, Stats, error) {
	if opts.Mode == Auto {
		o := opts
		o.Mode = Slots
		logits, st, err := Run(net, inputs, o)
		if err != nil {
			return nil, st, err
		}
		o.Mode, o.Replicate = Packed, true
		_, one, err := Run(net, inputs[:1], o)
		if err != nil {
			return nil, st, fmt.Errorf("henn: packed latency run: %w", err)
		}
		st.Mode = "auto (slots batch, packed latency)"
		st.Latency, st.LatencyKeyBytes = one.Latency, one.KeyBytes
		return logits, st, nil
	}
	m, err := Compile(net, opts)
	if err != nil {
		return nil, Stats{}, err
	}
	return runModel(m, len(inputs), func(c *Client, lo, hi int) (*Ciphertexts, error) {
		return c.EncryptBatch(m.Layout(), inputs[lo:hi])
	})
}

// RunFFN is [Run] for an FFN block over sentences of token vectors.
func RunFFN(b FFNBlock, sentences [][][]float64, opts Options) ([][]float64, Stats, error) {
	m, err := CompileFFN(b, opts)
	if err != nil {
		return nil, Stats{}, err
	}
	return runModel(m, len(sentences), func(c *Client, lo, hi int) (*Ciphertexts, error) {
		return c.EncryptSentences(m.Layout(), sentences[lo:hi])
	})
}

// runModel makes the keys and the server of m, then runs n inputs
// through encrypt(inputs[lo:hi]), evaluation and decryption: the first
// ciphertext group alone (its round trip is Stats.Latency), then the rest
// in chunks of about chunkInputs inputs.
func runModel(m *Model, n int, encrypt func(c *Client, lo, hi int) (*Ciphertexts, error)) ([][]float64, Stats, error) {
	l := m.Layout()
	st := Stats{Mode: l.Mode.String(), Preset: m.Preset(), LogN: l.Params.LogN(), Slots: l.Params.MaxSlots(),
		Depth: m.Depth(), Inputs: n, PerCiphertext: l.PerCiphertext(), Rotations: len(m.Rotations())}
	if n == 0 {
		return nil, st, errors.New("henn: no inputs to run")
	}
	t0 := time.Now()
	client, err := NewClient(m.Params())
	if err != nil {
		return nil, st, err
	}
	evk, err := client.EvaluationKeys(m.Rotations())
	if err != nil {
		return nil, st, err
	}
	st.KeyGen = time.Since(t0)
	st.KeyBytes = int64(evk.KeySet().BinarySize())
	t0 = time.Now()
	server, err := NewServer(m, evk)
	if err != nil {
		return nil, st, err
	}
	st.Setup = time.Since(t0)

	per := st.PerCiphertext
	chunk := per * max(1, chunkInputs/per)
	cpu0 := cpuTime()
	var logits [][]float64
	for lo := 0; lo < n; {
		hi := min(lo+chunk, n)
		if lo == 0 {
			hi = min(per, n) // the first group alone gives the single-input latency
		}
		t0 := time.Now()
		in, err := encrypt(client, lo, hi)
		if err != nil {
			return nil, st, err
		}
		enc := time.Since(t0)
		t0 = time.Now()
		out, err := server.Evaluate(in)
		if err != nil {
			return nil, st, err
		}
		eval := time.Since(t0)
		t0 = time.Now()
		got, err := client.DecryptLogits(l, out)
		if err != nil {
			return nil, st, err
		}
		dec := time.Since(t0)
		if len(got) != hi-lo {
			return nil, st, fmt.Errorf("henn: %d outputs for %d inputs", len(got), hi-lo)
		}
		if lo == 0 {
			st.Latency = enc + eval + dec
		}
		st.Encrypt, st.Evaluate, st.Decrypt = st.Encrypt+enc, st.Evaluate+eval, st.Decrypt+dec
		st.InputBytes += in.BinarySize()
		st.OutputBytes += out.BinarySize()
		logits = append(logits, got...)
		lo = hi
	}
	st.CPU = cpuTime() - cpu0
	st.PerInput = (st.Encrypt + st.Evaluate + st.Decrypt) / time.Duration(n)
	return logits, st, nil
}
