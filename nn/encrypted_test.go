package nn

import (
	"testing"
	"time"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/mnist"
)

// TestEncryptedMNISTSlice is the end-to-end check on real data: train a
// ReLU MLP on 20,000 MNIST images, swap in the kernel quadratic calibrated
// on its own pre-activations, and classify 200 test images under CKKS.
// Encrypted predictions must agree with the plaintext run of the same model.
func TestEncryptedMNISTSlice(t *testing.T) {
	if testing.Short() || raceEnabled {
		// Under -race the plaintext training alone takes about a minute; the
		// concurrent encrypted evaluator is race-tested in package henn.
		t.Skip("encrypted MNIST slice skipped in -short mode and under -race")
	}
	tr, err := mnist.Load(mnist.MNIST, "", true)
	if err != nil {
		t.Fatal(err)
	}
	te, err := mnist.Load(mnist.MNIST, "", false)
	if err != nil {
		t.Fatal(err)
	}
	fit, val, test := tr.Slice(0, 20000), tr.Slice(20000, 22000), te.Slice(0, 200)
	n, _ := NewMLP([]int{784, 64, 10}, nil, 1)
	if _, err := n.Train(fit.X, fit.Y, val.X, val.Y, TrainConfig{Epochs: 3, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	m, _, err := SwapByName(n, fit.Slice(0, 1000).X, "kernel", 0.25)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := m.Predict(test.X)
	h, err := m.HENN()
	if err != nil {
		t.Fatal(err)
	}
	model, err := henn.Compile(h, henn.Options{Mode: henn.Packed})
	if err != nil {
		t.Fatal(err)
	}
	client, err := henn.NewClient(model.Params())
	if err != nil {
		t.Fatal(err)
	}
	evk, err := client.EvaluationKeys(model.Rotations())
	if err != nil {
		t.Fatal(err)
	}
	server, err := henn.NewServer(model, evk)
	if err != nil {
		t.Fatal(err)
	}
	images := make([][]float64, test.Len())
	for i := range images {
		images[i] = test.X.RawRowView(i)
	}
	start := time.Now()
	ct, err := client.EncryptBatch(model.Layout(), images)
	if err != nil {
		t.Fatal(err)
	}
	out, err := server.Evaluate(ct)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := client.DecryptLogits(model.Layout(), out)
	if err != nil {
		t.Fatal(err)
	}
	enc := make([]int, len(logits))
	for i, l := range logits {
		for j, v := range l {
			if v > l[enc[i]] {
				enc[i] = j
			}
		}
	}
	acc, agree := Accuracy(enc, test.Y), Accuracy(enc, plain)
	t.Logf("200 encrypted MNIST images (%s, depth %d): accuracy %.3f, plaintext %.3f, agreement %.3f, %v",
		model.Preset(), model.Depth(), acc, Accuracy(plain, test.Y), agree, time.Since(start))
	if agree < 0.995 {
		t.Errorf("agreement with plaintext %.3f, want ≥ 0.995", agree)
	}
	if acc < 0.9 {
		t.Errorf("encrypted accuracy %.3f, want ≥ 0.9", acc)
	}
}
