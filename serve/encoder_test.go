package serve

import (
	"bytes"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/henn"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// tinyEncoder is a random HE-friendly encoder of small width (8 features,
// 2 heads, 4 tokens, 1 layer, 2 classes) whose token rows stay O(1).
func tinyEncoder(seed uint64) *henn.Encoder {
	r := rand.New(rand.NewPCG(seed, 11))
	dense := func(out, in int, scale float64) henn.Dense {
		d := henn.Dense{W: make([][]float64, out), B: make([]float64, out)}
		for i := range d.W {
			d.W[i] = make([]float64, in)
			for j := range d.W[i] {
				d.W[i][j] = scale * r.NormFloat64() / math.Sqrt(float64(in))
			}
			d.B[i] = 0.1 * r.NormFloat64()
		}
		return d
	}
	const dim, hidden = 8, 8
	norm := dense(dim, dim, 0.3)
	for i := range dim {
		norm.W[i][i] += 0.6
	}
	return &henn.Encoder{Dim: dim, Heads: 2, MaxTokens: 4, QuadShift: 3, Classifier: dense(2, dim, 1),
		Layers: []henn.EncoderLayer{{Q: dense(dim, dim, 0.5), K: dense(dim, dim, 1), V: dense(dim, dim, 1), O: dense(dim, dim, 0.5),
			Norm: norm, FFNIn: dense(hidden, dim, 1), Act: henn.Poly{Coeffs: approx.Poly{0.1, 0.5, 0.2}}, FFNOut: dense(dim, hidden, 0.5)}}}
}

func tinySentences(seed uint64, lengths ...int) [][][]float64 {
	r := rand.New(rand.NewPCG(seed, 12))
	out := make([][][]float64, len(lengths))
	for i, n := range lengths {
		out[i] = make([][]float64, n)
		for t := range out[i] {
			out[i][t] = make([]float64, 8)
			for f := range out[i][t] {
				out[i][t][f] = r.NormFloat64()
			}
		}
	}
	return out
}

func newEncoderHandler(t *testing.T, cfg Config) (*Handler, *henn.Encoder, *henn.EncoderModel) {
	t.Helper()
	e := tinyEncoder(1)
	m, err := henn.CompileEncoder(e, henn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewEncoder(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h, e, m
}

// TestServeEncoderEndToEnd serves a tiny encoder over loopback HTTP: the
// client rebuilds the layout from the public shape alone, sentences of
// every length come back with the plaintext Encoder.Forward logits, the
// session's memory (keys and its own encoded diagonals) is counted, and
// malformed batches get 400 with a message, never a panic.
func TestServeEncoderEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("encrypted encoder at LogN 14: key generation and evaluation take tens of seconds")
	}
	h, e, m := newEncoderHandler(t, Config{Task: "sst2"})
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	ctx := context.Background()
	sess, err := c.NewEncoderSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Info.Task != "sst2" || sess.Info.Encoder == nil || sess.Info.Layout.Mode != EncoderMode {
		t.Fatalf("model info: task %q, encoder %v, mode %q", sess.Info.Task, sess.Info.Encoder, sess.Info.Layout.Mode)
	}
	// What the client rebuilt from the public shape is the compiled layout
	// (compared field by field through what the client uses).
	if l := m.Layout(); sess.Layout.Block != l.Block || sess.Layout.Tokens != l.Tokens || sess.Layout.Level != l.Level || sess.Layout.ClassStride != l.ClassStride {
		t.Fatalf("client layout %+v, server %+v", sess.Layout, l)
	}
	// The session holds its keys (what was uploaded less the framing);
	// the encoded diagonals are the model's, counted once.
	st := h.Stats()
	if st.Sessions != 1 || st.KeyBytes != sess.ServerBytes || st.KeyBytes > sess.KeyBytes || st.KeyBytes < sess.KeyBytes-64<<10 {
		t.Errorf("stats %+v, reported %d: want 1 session holding its %d bytes of keys", st, sess.ServerBytes, sess.KeyBytes)
	}
	if st.WeightsBytes == 0 {
		t.Errorf("stats %+v: no shared encoded diagonals", st)
	}
	// The size NewEncoder checks the limits with is the key set's.
	if est := keySetBytes(m.Params(), len(m.Rotations())); math.Abs(float64(est-sess.KeyBytes)) > 0.01*float64(sess.KeyBytes) {
		t.Errorf("estimated key set %d bytes, sent %d", est, sess.KeyBytes)
	}
	sentences := tinySentences(2, 1, 3, 4)
	got, err := sess.Classify(ctx, sentences)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range sentences {
		want, err := e.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		scale := 0.0
		for _, v := range want {
			scale = max(scale, math.Abs(v))
		}
		for k := range want {
			if d := math.Abs(got[i][k] - want[k]); d > 1e-3*max(1, scale) {
				t.Errorf("sentence %d (%d tokens) logit %d: encrypted %g, plaintext %g", i, len(x), k, got[i][k], want[k])
			}
		}
	}
	if _, err := sess.Classify(ctx, tinySentences(3, 5)); err == nil || !strings.Contains(err.Error(), "at most 4") {
		t.Errorf("a 5-token sentence for a 4-token encoder: %v", err)
	}

	// Malformed batches: each a 400 naming the problem.
	in, err := sess.client.EncryptEncoderInput(sess.Layout, sentences[0])
	if err != nil {
		t.Fatal(err)
	}
	low := in.X.CopyNew()
	low.Resize(low.Degree(), low.Level()-1)
	batch := func(groups ...[]*rlwe.Ciphertext) []byte {
		b := &henn.Ciphertexts{Groups: groups}
		for range groups {
			b.Counts = append(b.Counts, 1)
		}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf, m.Params()); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	withLength := func() []byte {
		b := &henn.Ciphertexts{Groups: [][]*rlwe.Ciphertext{{in.X, in.Mask}}, Counts: []int{1}, Lengths: []int{3}}
		var buf bytes.Buffer
		if _, err := b.WriteTo(&buf, m.Params()); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for _, tc := range []struct {
		name, want string
		body       []byte
	}{
		{"one ciphertext", "takes 2 per sentence", batch([]*rlwe.Ciphertext{in.X})},
		{"three ciphertexts", "takes 2 per sentence", batch([]*rlwe.Ciphertext{in.X, in.Mask, in.Mask})},
		{"second sentence short", "sentence 1 has 1", batch([]*rlwe.Ciphertext{in.X, in.Mask}, []*rlwe.Ciphertext{in.Mask})},
		{"wrong level", "level", batch([]*rlwe.Ciphertext{low, in.Mask})},
		{"length in the clear", "length in the clear", withLength()},
		{"garbage", "malformed ciphertext batch", []byte("not a batch at all")},
		{"truncated", "malformed ciphertext batch", batch([]*rlwe.Ciphertext{in.X, in.Mask})[:5000]},
	} {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/session/"+sess.ID+"/infer", bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", ContentType)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), tc.want) {
			t.Errorf("%s: %s %q, want 400 mentioning %q", tc.name, resp.Status, msg, tc.want)
		}
	}
	// The session survives bad requests.
	if _, err := sess.Classify(ctx, sentences[:1]); err != nil {
		t.Errorf("after the malformed requests: %v", err)
	}

}

// TestEncoderWrongClient: a network client facing an encoder server, and
// an encoder client facing a network server, fail on GET /v1/model,
// before any key is made or sent.
func TestEncoderWrongClient(t *testing.T) {
	h, _, _ := newEncoderHandler(t, Config{Task: "sst2"})
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	if _, err := c.NewSession(context.Background()); err == nil || !strings.Contains(err.Error(), "transformer encoder") {
		t.Errorf("network session against an encoder server: %v", err)
	}
	if h.Sessions() != 0 {
		t.Errorf("%d sessions after a refused client, want 0", h.Sessions())
	}
	m, err := henn.Compile(testNet(t), henn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hn, err := New(m, Config{Task: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	defer hn.Close()
	tn := httptest.NewServer(hn)
	defer tn.Close()
	if _, err := (&Client{BaseURL: tn.URL, HTTP: tn.Client()}).NewEncoderSession(context.Background()); err == nil || !strings.Contains(err.Error(), "not a transformer encoder") {
		t.Errorf("encoder session against a network server: %v", err)
	}
	if hn.Sessions() != 0 {
		t.Errorf("%d sessions after a refused client, want 0", hn.Sessions())
	}
}

// TestEncoderLimitsTooSmall: limits no encoder key set fits are an error
// of NewEncoder naming the flags, before any client makes keys.
func TestEncoderLimitsTooSmall(t *testing.T) {
	m, err := henn.CompileEncoder(tinyEncoder(1), henn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{MaxKeyBytes: 1 << 20}, {MaxKeyMemory: 1 << 20, MaxKeyBytes: 1 << 20}} {
		if _, err := NewEncoder(m, cfg); err == nil || !strings.Contains(err.Error(), "--max-key-mb") || !strings.Contains(err.Error(), "rotation keys") {
			t.Errorf("NewEncoder with %+v: %v", cfg, err)
		}
	}
}

// TestEncoderSessionsShareWeights: the encoder's diagonals are encoded
// once, when the handler is made, and counted once (Stats.WeightsBytes,
// unchanged by sessions); two sessions with their own keys classify at the
// same time (run with -race) and each gets the plaintext logits; each
// session is counted at the size of its keys.
func TestEncoderSessionsShareWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("two encrypted encoder sessions at LogN 14: tens of seconds")
	}
	// A long evaluation deadline: under -race on a shared machine one
	// evaluation takes minutes.
	h, e, _ := newEncoderHandler(t, Config{Task: "sst2", Timeout: 30 * time.Minute})
	w0 := h.Stats().WeightsBytes
	if w0 == 0 {
		t.Fatal("no encoded diagonals after NewEncoder")
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	ctx := context.Background()
	var sessions []*EncoderSession
	var keys int64
	for range 2 {
		s, err := c.NewEncoderSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if s.ServerBytes > s.KeyBytes {
			t.Errorf("a session holds %d bytes for %d bytes of keys", s.ServerBytes, s.KeyBytes)
		}
		keys += s.ServerBytes
		sessions = append(sessions, s)
	}
	if st := h.Stats(); st.Sessions != 2 || st.KeyBytes != keys || st.WeightsBytes != w0 {
		t.Errorf("stats %+v: want 2 sessions holding %d bytes of keys, %d bytes of shared diagonals", st, keys, w0)
	}
	sentences := [][][][]float64{tinySentences(7, 2, 4), tinySentences(8, 3, 1)}
	got := make([][][]float64, len(sessions))
	errs := make([]error, len(sessions))
	var wg sync.WaitGroup
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = s.Classify(ctx, sentences[i])
		}()
	}
	wg.Wait()
	for i := range sessions {
		if errs[i] != nil {
			t.Fatalf("session %d: %v", i, errs[i])
		}
		for j, x := range sentences[i] {
			want, err := e.Forward(x)
			if err != nil {
				t.Fatal(err)
			}
			for k := range want {
				if d := math.Abs(got[i][j][k] - want[k]); d > 1e-3*max(1, math.Abs(want[k])) {
					t.Errorf("session %d sentence %d logit %d: encrypted %g, plaintext %g", i, j, k, got[i][j][k], want[k])
				}
			}
		}
	}
}

// TestDefaultKeyLimits: unset limits are sized to the served model — the
// key upload limit to its key set (plus 1 MiB of framing, whole MiB), the
// key memory to 1 GiB or one key set when larger — and set ones are kept.
func TestDefaultKeyLimits(t *testing.T) {
	m, err := henn.CompileEncoder(tinyEncoder(1), henn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	need := keySetBytes(m.Params(), len(m.Rotations()))
	h, err := NewEncoder(m, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cfg := h.Config()
	if cfg.MaxKeyBytes < need+1<<20 || cfg.MaxKeyBytes >= need+2<<20 || cfg.MaxKeyBytes%(1<<20) != 0 {
		t.Errorf("default key upload limit %d for a key set of %d bytes", cfg.MaxKeyBytes, need)
	}
	if cfg.MaxKeyMemory != max(DefaultMaxKeyMemory, cfg.MaxKeyBytes) {
		t.Errorf("default key memory %d, upload limit %d", cfg.MaxKeyMemory, cfg.MaxKeyBytes)
	}
	t.Logf("tiny encoder: key set %.1f MiB, default --max-key-mb %d", mib(need), cfg.MaxKeyBytes>>20)
	set := Config{MaxKeyBytes: 5 << 30, MaxKeyMemory: 6 << 30}
	h2, err := NewEncoder(m, set)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if got := h2.Config(); got.MaxKeyBytes != set.MaxKeyBytes || got.MaxKeyMemory != set.MaxKeyMemory {
		t.Errorf("explicit limits %+v became %+v", set, got)
	}
	// A network: its own key set.
	mn, err := henn.Compile(mnistNet(), henn.Options{Mode: henn.Packed})
	if err != nil {
		t.Fatal(err)
	}
	hn, err := New(mn, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer hn.Close()
	if got, want := hn.Config().MaxKeyBytes, DefaultMaxKeyBytes(mn.Params(), len(mn.Rotations())); got != want || got < keySetBytes(mn.Params(), len(mn.Rotations())) {
		t.Errorf("network: default key upload limit %d, want %d", got, want)
	}
	t.Logf("784-128-10 MLP: default --max-key-mb %d, --max-key-memory-mb %d", hn.Config().MaxKeyBytes>>20, hn.Config().MaxKeyMemory>>20)
}
