package henn

import (
	"math/rand/v2"
	"testing"
)

// TestRunInChunks: Run streams the inputs through encryption, evaluation
// and decryption a few ciphertext groups at a time; every chunk's outputs
// come back in order and match the plaintext network.
func TestRunInChunks(t *testing.T) {
	defer func(c int) { chunkInputs = c }(chunkInputs)
	chunkInputs = 2
	net := smallMLP(5, 10, 6, 3)
	inputs := randInputs(rand.New(rand.NewPCG(6, 6)), 7, 10)
	got, st, err := Run(net, inputs, Options{Mode: Packed, Replicate: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(inputs) || st.Inputs != len(inputs) || st.PerCiphertext != 1 {
		t.Fatalf("%d outputs, stats %+v", len(got), st)
	}
	if ag := closeLogits(t, net, inputs, got, 1e-4); ag < 1 {
		t.Errorf("argmax agreement %.3f, want 1", ag)
	}
	if st.Latency <= 0 || st.Latency > st.Encrypt+st.Evaluate+st.Decrypt {
		t.Errorf("latency %v outside (0, total %v]", st.Latency, st.Encrypt+st.Evaluate+st.Decrypt)
	}
	if _, _, err := Run(net, nil, Options{Mode: Packed}); err == nil {
		t.Error("no inputs accepted")
	}
}
