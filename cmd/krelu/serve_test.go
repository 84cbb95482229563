package main

import (
	"bytes"
	"encoding/json"
	"errors"
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
	n.Task = "mnist"
	path := filepath.Join(t.TempDir(), "mlp.krelu")
	var buf bytes.Buffer
	if err := n.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	h, _, err := serveHandler(path, "packed", false, &serve.Config{})
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

	// The server advertises its task; a client asking for another one is
	// refused before it makes keys.
	err = runClient([]string{"--server", ts.URL, "--task", "fashion", "--limit", "8"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "trained for mnist") || !strings.Contains(err.Error(), "--task fashion") {
		t.Errorf("krelu client --task fashion against an MNIST server: %v; want an error naming both tasks", err)
	}

	var text bytes.Buffer
	if err := runClient([]string{"--server", ts.URL, "--limit", "8"}, &text, &errOut); err != nil || !strings.Contains(text.String(), "accuracy") {
		t.Errorf("text report: %v %q", err, text.String())
	}
}

// TestServeFlags is the bad-input catalogue of krelu serve and krelu
// client: every numeric flag out of range is an error naming the flag and
// its range, found before the (missing) model or server is touched.
func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--model"},
		{[]string{"--model", "x", "--mode", "tokens"}, "--mode"},
		{[]string{"--model", "x", "--max-sessions", "0"}, "--max-sessions 0: want 1…4096"},
		{[]string{"--model", "x", "--max-sessions", "-3"}, "--max-sessions -3"},
		{[]string{"--model", "x", "--max-sessions", "5000"}, "--max-sessions 5000"},
		{[]string{"--model", "x", "--timeout", "-1s"}, "--timeout -1s: want a positive duration"},
		{[]string{"--model", "x", "--timeout", "0"}, "--timeout 0s"},
		{[]string{"--model", "x", "--read-timeout", "-5s"}, "--read-timeout"},
		{[]string{"--model", "x", "--session-ttl", "0s"}, "--session-ttl"},
		{[]string{"--model", "x", "--max-key-mb", "0"}, "--max-key-mb 0: want 1…65536"},
		{[]string{"--model", "x", "--max-ct-mb", "-1"}, "--max-ct-mb -1"},
		{[]string{"--model", "x", "--max-key-memory-mb", "0"}, "--max-key-memory-mb 0"},
		{[]string{"--model", "x", "--max-evaluations", "0"}, "--max-evaluations 0: want 1…1024"},
		{[]string{"--model", "x", "--max-key-mb", "2048", "--max-key-memory-mb", "1024"}, "--max-key-mb 2048 exceeds --max-key-memory-mb 1024: want"},
		{[]string{"--model", "x", "--addr", "8080"}, "--addr"},
		{[]string{"--model", "x", "--max-sessions", "two"}, "max-sessions"},
	} {
		err := runServe(tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errUsage) {
			t.Errorf("krelu serve %q: %v; want a usage error containing %q", tc.args, err, tc.want)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--server"},
		{[]string{"--server", "ftp://127.0.0.1:1"}, "--server"},
		{[]string{"--server", "127.0.0.1:8080"}, "--server"},
		{[]string{"--server", "http://127.0.0.1:1", "--batch", "-5"}, "--batch -5: want 0 (automatic) … 65536"},
		{[]string{"--server", "http://127.0.0.1:1", "--batch", "100000"}, "--batch 100000"},
		{[]string{"--server", "http://127.0.0.1:1", "--limit", "-1"}, "--limit -1: want 0 (all) … 10000"},
		{[]string{"--server", "http://127.0.0.1:1", "--limit", "20000"}, "--limit 20000"},
		{[]string{"--server", "http://127.0.0.1:1", "--task", "cifar"}, "cifar"},
	} {
		err := runClient(tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errUsage) {
			t.Errorf("krelu client %q: %v; want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}
