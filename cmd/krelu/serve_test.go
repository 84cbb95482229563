package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/mnist"
	"github.com/krelu/krelu/nn"
	"github.com/krelu/krelu/serve"
)

// TestServeClient wires `krelu serve`'s handler to `krelu client` over
// loopback with an untrained 784-16-10 quadratic MLP: the encrypted
// accuracy must equal the plaintext accuracy of the same checkpoint.
func TestServeClient(t *testing.T) {
	if testing.Short() {
		t.Skip("encrypted round trip skipped in -short mode")
	}
	n, err := nn.NewMLP([]int{784, 16, 10}, approx.Poly{0.1, 0.5, 0.25}, 1)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "mlp.krelu")
	var buf bytes.Buffer
	if err := n.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	h, _, err := serveHandler(path, "packed", serve.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	var out, errOut bytes.Buffer
	if err := runClient([]string{"--server", ts.URL, "--task", "mnist", "--limit", "24", "--batch", "16", "--json"}, &out, &errOut); err != nil {
		t.Fatalf("krelu client: %v\n%s", err, errOut.String())
	}
	var rep clientReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	te, err := mnist.Load(mnist.MNIST, "", false)
	if err != nil {
		t.Fatal(err)
	}
	te = te.Slice(0, 24)
	plain, err := n.Predict(te.X)
	if err != nil {
		t.Fatal(err)
	}
	if want := nn.Accuracy(plain, te.Y); rep.Images != 24 || math.Abs(rep.Accuracy-want) > 1e-9 {
		t.Errorf("client report: %d images, accuracy %g; want 24, plaintext accuracy %g", rep.Images, rep.Accuracy, want)
	}
	if rep.KeyBytes <= 0 || rep.BytesSent <= rep.KeyBytes || rep.BytesRecv <= 0 {
		t.Errorf("byte counts: keys %d, sent %d, received %d", rep.KeyBytes, rep.BytesSent, rep.BytesRecv)
	}

	var text bytes.Buffer
	if err := runClient([]string{"--server", ts.URL, "--limit", "8"}, &text, &errOut); err != nil || !strings.Contains(text.String(), "accuracy") {
		t.Errorf("text report: %v %q", err, text.String())
	}
}

func TestServeFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"--model", "x", "--mode", "tokens"}} {
		if err := runServe(args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("krelu serve %q: %v; want a usage error", args, err)
		}
	}
	if err := runClient(nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "--server") {
		t.Errorf("krelu client without --server: %v", err)
	}
}
