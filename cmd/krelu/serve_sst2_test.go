package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/serve"
	"github.com/krelu/krelu/transformer"
)

// tinySST2Model writes an untrained HE-friendly transformer (width 8,
// 2 heads, 4 tokens, 1 layer) and a 3-sentence dev TSV.
func tinySST2Model(t *testing.T) (model, dev string) {
	return tinySST2ModelSeed(t, 4)
}

func tinySST2ModelSeed(t *testing.T, seed uint64) (model, dev string) {
	t.Helper()
	v := transformer.NewVocab([]string{"a", "good", "bad", "film", "very"})
	cfg := transformer.Config{Vocab: v.Len(), EmbDim: 4, Dim: 8, Heads: 2, Hidden: 8, Layers: 1, MaxLen: 4, Classes: 2, HEFriendly: true, QuadShift: 3}
	m, err := transformer.New(cfg, transformer.PolyActivation("k2", approx.Poly{0.1, 0.5, 0.2}), rand.New(rand.NewPCG(seed, 4)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	model = filepath.Join(dir, "he.gob")
	if err := (&transformer.Saved{Model: m, Vocab: v}).SaveFile(model); err != nil {
		t.Fatal(err)
	}
	dev = filepath.Join(dir, "dev.tsv")
	if err := os.WriteFile(dev, []byte("sentence\tlabel\na very good film\t1\nbad\t0\nunseen bad film\t0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return model, dev
}

// TestServeClientSST2 runs `krelu serve` on an HE-friendly transformer and
// `krelu client --task sst2` against it over loopback: the encrypted
// predictions agree with the plaintext encoder, and clients of the wrong
// task or kind fail before any key is made.
func TestServeClientSST2(t *testing.T) {
	model, dev := tinySST2Model(t)
	cfg := serve.Config{}
	h, desc, err := serveHandler(model, "packed", false, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if cfg.Task != transformer.TaskSST2 || !strings.Contains(desc, "transformer encoder, 1 layer(s)") {
		t.Errorf("task %q, description %q", cfg.Task, desc)
	}
	if _, _, err := serveHandler(model, "slots", true, &serve.Config{}); err == nil || !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--mode") {
		t.Errorf("--mode with a transformer: %v", err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()

	// Wrong task and wrong kind: refused on GET /v1/model.
	err = runClient([]string{"--server", ts.URL, "--task", "mnist", "--limit", "2"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "trained for sst2") {
		t.Errorf("MNIST client against an SST-2 server: %v", err)
	}
	// The client tables of another model of the same shape: refused by
	// the weights fingerprint before any key is made.
	other, _ := tinySST2ModelSeed(t, 5)
	otherTab := filepath.Join(t.TempDir(), "other.gob")
	if _, err := transformer.ExportClient(other, otherTab); err != nil {
		t.Fatal(err)
	}
	err = runClient([]string{"--server", ts.URL, "--task", "sst2", "--model", otherTab, "--dev", dev}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "belongs to another model") {
		t.Errorf("client tables of another model: %v", err)
	}
	if h.Sessions() != 0 {
		t.Fatalf("%d sessions after refused clients", h.Sessions())
	}
	if testing.Short() {
		t.Skip("encrypted round trip skipped in -short mode")
	}
	var out, errOut bytes.Buffer
	if err := runClient([]string{"--server", ts.URL, "--task", "sst2", "--model", model, "--dev", dev, "--json"}, &out, &errOut); err != nil {
		t.Fatalf("krelu client: %v\n%s", err, errOut.String())
	}
	var rep sst2ClientReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if rep.Sentences != 3 || !rep.Reference || rep.Agreement == nil || *rep.Agreement != 1 || *rep.MaxLogitError > 1e-3 || rep.Accuracy == nil || *rep.Accuracy != *rep.PlaintextAccuracy {
		t.Errorf("report %s: want 3 sentences in full agreement with the plaintext encoder", out.String())
	}
	if rep.KeyBytes <= 0 || rep.SentPerSentence <= 0 || rep.RecvPerSentence <= 0 {
		t.Errorf("byte counts: %s", out.String())
	}
	// The client tables alone: the same classification, no plaintext
	// reference, and the report says so instead of showing numbers.
	tab := filepath.Join(t.TempDir(), "client.gob")
	if _, err := transformer.ExportClient(model, tab); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runClient([]string{"--server", ts.URL, "--task", "sst2", "--model", tab, "--dev", dev, "--json"}, &out, &errOut); err != nil {
		t.Fatalf("krelu client with client tables: %v\n%s", err, errOut.String())
	}
	var trep sst2ClientReport
	if err := json.Unmarshal(out.Bytes(), &trep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if trep.Sentences != 3 || trep.Reference || trep.Accuracy == nil || strings.Contains(out.String(), "agreement") || strings.Contains(out.String(), "plaintext_accuracy") ||
		strings.Contains(out.String(), "logit_error") {
		t.Errorf("report with client tables only: %s", out.String())
	}
	out.Reset()
	if err := runClient([]string{"--server", ts.URL, "--task", "sst2", "--model", tab, "--text", "a good film"}, &out, &errOut); err != nil {
		t.Fatalf("krelu client --text with client tables: %v\n%s", err, errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "no plaintext reference") || strings.Contains(s, "plaintext -") || strings.Contains(s, "agreement") {
		t.Errorf("text report with client tables only: %q", s)
	}
	out.Reset()
	if err := runClient([]string{"--server", ts.URL, "--task", "sst2", "--model", model, "--text", "a good film"}, &out, &errOut); err != nil {
		t.Fatalf("krelu client --text: %v\n%s", err, errOut.String())
	}
	if s := out.String(); !strings.Contains(s, "positive") && !strings.Contains(s, "negative") {
		t.Errorf("--text report names no label: %q", s)
	}
	out.Reset()
	err = runClient([]string{"--server", ts.URL, "--task", "sst2", "--model", model, "--text", "a very very good film"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "5 tokens > 4") {
		t.Errorf("a 5-token sentence for a 4-token encoder: %v", err)
	}
}

// TestClientSST2Flags: the sst2 flags are checked before the server is
// contacted.
func TestClientSST2Flags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--server", "http://127.0.0.1:1", "--task", "sst2"}, "--model"},
		{[]string{"--server", "http://127.0.0.1:1", "--task", "sst2", "--model", "m.gob", "--dev-limit", "-1"}, "--dev-limit -1"},
		{[]string{"--server", "http://127.0.0.1:1", "--task", "sst2", "--model", "m.gob", "--text", "good", "--dev-limit", "3"}, "--text"},
		{[]string{"--server", "http://127.0.0.1:1", "--task", "sst2", "--model", "m.gob", "--text", "good", "--dev-offset", "3"}, "--dev-offset"},
		{[]string{"--server", "http://127.0.0.1:1", "--task", "sst2", "--model", "m.gob", "--batch", "3"}, "--batch"},
		{[]string{"--server", "http://127.0.0.1:1", "--model", "m.gob"}, "--model must come with --task sst2"},
		{[]string{"--task", "sst2", "--model", "m.gob"}, "--server"},
	} {
		err := runClient(tc.args, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errUsage) {
			t.Errorf("krelu client %q: %v; want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}
