package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/krelu/krelu/internal/logits"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/henn"
)

// testNet is a random 16-8-4 MLP with a quadratic activation: small enough
// for fast keys, deep enough (one level) to exercise the activation.
func testNet(t testing.TB) henn.Network {
	r := rand.New(rand.NewPCG(1, 2))
	dense := func(out, in int) henn.Dense {
		d := henn.Dense{W: make([][]float64, out), B: make([]float64, out)}
		for i := range d.W {
			d.W[i] = make([]float64, in)
			for j := range d.W[i] {
				d.W[i][j] = r.NormFloat64() / math.Sqrt(float64(in))
			}
			d.B[i] = 0.1 * r.NormFloat64()
		}
		return d
	}
	return henn.Network{InputDim: 16, Layers: []henn.Layer{
		dense(8, 16), henn.Poly{Coeffs: approx.Poly{0.1, 0.5, 0.25}}, dense(4, 8),
	}}
}

func testInputs(n, dim int) [][]float64 {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, dim)
		for j := range x[i] {
			x[i][j] = r.Float64()
		}
	}
	return x
}

func newTestServer(t testing.TB, net henn.Network, opts henn.Options, cfg Config) (*Handler, *httptest.Server) {
	t.Helper()
	m, err := henn.Compile(net, opts)
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h) // loopback only
	t.Cleanup(ts.Close)
	t.Cleanup(func() { h.Close() })
	return h, ts
}

// checkLogits compares encrypted logits with the plaintext forward pass.
func checkLogits(t *testing.T, net henn.Network, inputs, got [][]float64) {
	t.Helper()
	for i, x := range inputs {
		want, err := net.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		if logits.Argmax(want) != logits.Argmax(got[i]) {
			t.Errorf("input %d: encrypted argmax %d, plaintext %d", i, logits.Argmax(got[i]), logits.Argmax(want))
		}
		for j := range want {
			if d := math.Abs(want[j] - got[i][j]); d > 1e-3 {
				t.Errorf("input %d logit %d: encrypted %g, plaintext %g (|Δ| %.2g > 1e-3)", i, j, got[i][j], want[j], d)
			}
		}
	}
}

func TestRoundTrip(t *testing.T) {
	net := testNet(t)
	for _, mode := range []henn.Mode{henn.Packed, henn.Slots} {
		t.Run(mode.String(), func(t *testing.T) {
			_, ts := newTestServer(t, net, henn.Options{Mode: mode}, Config{})
			c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
			sess, err := c.NewSession(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if sess.Info.InputDim != 16 || sess.Info.Classes != 4 {
				t.Fatalf("model info: input dim %d, classes %d; want 16, 4", sess.Info.InputDim, sess.Info.Classes)
			}
			inputs := testInputs(32, 16)
			got, err := sess.Classify(context.Background(), inputs)
			if err != nil {
				t.Fatal(err)
			}
			checkLogits(t, net, inputs, got)
			t.Logf("%s: LogN %d, keys %d B, sent %d B, received %d B for %d inputs",
				mode, sess.Info.LogN, sess.KeyBytes, sess.Sent, sess.Received, len(inputs))
		})
	}
}

func post(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRejects(t *testing.T) {
	net := testNet(t)
	_, ts := newTestServer(t, net, henn.Options{Mode: henn.Packed}, Config{MaxCiphertextBytes: 1 << 20})
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	ctx := context.Background()
	info, l, err := c.Model(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := henn.NewClient(l.Params)
	if err != nil {
		t.Fatal(err)
	}
	evk, err := hc.EvaluationKeys(info.Rotations)
	if err != nil {
		t.Fatal(err)
	}
	var keys bytes.Buffer
	if _, err := evk.WriteTo(&keys); err != nil {
		t.Fatal(err)
	}
	var params bytes.Buffer
	if _, err := he.WriteParameters(&params, l.Params); err != nil {
		t.Fatal(err)
	}
	ct, err := hc.EncryptBatch(l, testInputs(2, 16))
	if err != nil {
		t.Fatal(err)
	}
	var cts bytes.Buffer
	if _, err := ct.WriteTo(&cts, l.Params); err != nil {
		t.Fatal(err)
	}
	// Keys without the rotations the model needs.
	noRot, err := hc.EvaluationKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	var noRotKeys bytes.Buffer
	noRot.WriteTo(&noRotKeys)
	// Keys for other (secure) parameters.
	other, err := henn.Compile(net, henn.Options{Mode: henn.Slots, LogN: l.Params.LogN() + 1})
	if err != nil {
		t.Fatal(err)
	}
	oc, err := henn.NewClient(other.Params())
	if err != nil {
		t.Fatal(err)
	}
	oevk, err := oc.EvaluationKeys(nil)
	if err != nil {
		t.Fatal(err)
	}
	var otherKeys bytes.Buffer
	oevk.WriteTo(&otherKeys)

	corrupt := bytes.Clone(keys.Bytes())
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0xa5
	}
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"empty", nil, "malformed evaluation keys"},
		{"garbage", []byte("not keys at all"), "malformed evaluation keys"},
		{"truncated", keys.Bytes()[:keys.Len()/2], "malformed evaluation keys"},
		{"corrupt", corrupt, "evaluation keys"},
		{"parameters only", params.Bytes(), "malformed evaluation keys"},
		{"ciphertexts", cts.Bytes(), "malformed evaluation keys"},
		{"missing rotations", noRotKeys.Bytes(), "rotations"},
		{"other parameters", otherKeys.Bytes(), "parameters"},
	} {
		code, msg := post(t, ts.URL+"/v1/session", tc.body)
		if code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("POST /v1/session %s: %d %q; want 400 mentioning %q", tc.name, code, msg, tc.want)
		}
	}

	code, msg := post(t, ts.URL+"/v1/session", keys.Bytes())
	if code != http.StatusCreated {
		t.Fatalf("POST /v1/session: %d %s", code, msg)
	}
	var created sessionResponse
	if err := json.Unmarshal([]byte(msg), &created); err != nil || created.ID == "" || created.Bytes <= 0 {
		t.Fatalf("POST /v1/session answered %q", msg)
	}
	id := created.ID
	infer := ts.URL + "/v1/session/" + id + "/infer"
	badCt := bytes.Clone(cts.Bytes())
	for i := cts.Len() / 2; i < cts.Len()/2+64; i++ {
		badCt[i] ^= 0x5a
	}
	for _, tc := range []struct {
		name string
		url  string
		body []byte
		code int
	}{
		{"ok", infer, cts.Bytes(), http.StatusOK},
		{"garbage", infer, []byte("krelu.henn.ciphertexts/v1\nxx"), http.StatusBadRequest},
		{"truncated", infer, cts.Bytes()[:cts.Len()-100], http.StatusBadRequest},
		{"corrupt", infer, badCt, http.StatusBadRequest},
		{"keys", infer, keys.Bytes()[:1<<19], http.StatusBadRequest},
		{"oversized", infer, make([]byte, 1<<20+1), http.StatusRequestEntityTooLarge},
		{"unknown session", ts.URL + "/v1/session/0123/infer", cts.Bytes(), http.StatusNotFound},
	} {
		code, msg := post(t, tc.url, tc.body)
		if code != tc.code {
			t.Errorf("infer %s: %d %q; want %d", tc.name, code, msg, tc.code)
		}
	}
	if code, msg := post(t, ts.URL+"/v1/model", nil); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /v1/model: %d %q; want 405", code, msg)
	}
}

func TestOversizedKeys(t *testing.T) {
	_, ts := newTestServer(t, testNet(t), henn.Options{Mode: henn.Slots}, Config{MaxKeyBytes: 4096})
	if code, msg := post(t, ts.URL+"/v1/session", make([]byte, 8192)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("8 KB body, 4 KB limit: %d %q; want 413", code, msg)
	}
	// A chunked body of unknown length must hit the limit while reading.
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	_, err := c.NewSession(context.Background())
	if err == nil || !strings.Contains(err.Error(), "413") {
		t.Errorf("real keys over a 4 KB limit: %v; want a 413", err)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/session", io.MultiReader(strings.NewReader(""), bytes.NewReader(make([]byte, 8192))))
	req.Header.Set("Content-Type", ContentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge && resp.StatusCode != http.StatusBadRequest {
		t.Errorf("chunked 8 KB body: %d; want 413 or 400", resp.StatusCode)
	}
}

func TestSessionsBounded(t *testing.T) {
	h, ts := newTestServer(t, testNet(t), henn.Options{Mode: henn.Slots}, Config{MaxSessions: 2})
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	ctx := context.Background()
	var sess []*Session
	for range 3 {
		s, err := c.NewSession(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sess = append(sess, s)
	}
	if h.Sessions() != 2 {
		t.Errorf("%d sessions held; want 2", h.Sessions())
	}
	x := testInputs(1, 16)
	if _, err := sess[0].Classify(ctx, x); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("evicted session: %v; want a 404", err)
	}
	if _, err := sess[2].Classify(ctx, x); err != nil {
		t.Errorf("newest session: %v", err)
	}
}

// TestConcurrentClients runs two clients with their own keys at once (run
// with -race).
func TestConcurrentClients(t *testing.T) {
	net := testNet(t)
	_, ts := newTestServer(t, net, henn.Options{Mode: henn.Packed}, Config{})
	inputs := testInputs(8, 16)
	var wg sync.WaitGroup
	results := make([][][]float64, 2)
	errs := make([]error, 2)
	for k := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
			s, err := c.NewSession(context.Background())
			if err != nil {
				errs[k] = err
				return
			}
			for range 2 {
				if results[k], err = s.Classify(context.Background(), inputs); err != nil {
					errs[k] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for k := range 2 {
		if errs[k] != nil {
			t.Fatalf("client %d: %v", k, errs[k])
		}
		checkLogits(t, net, inputs, results[k])
	}
}
