package serve

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/henn"
)

// fuzzPost sends body to path on h as the octet-stream the endpoints take
// and returns the status; a 500 or a panic is a bug.
func fuzzPost(t *testing.T, h http.Handler, path string, body []byte) int {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", ContentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("POST %s with %d bytes: %d %s", path, len(body), rec.Code, rec.Body.String())
	}
	return rec.Code
}

// fuzzHandler is a toy model's handler (slots layout: no rotation keys, the
// cheapest to set up) with one session, and the
// start of a valid key upload and ciphertext batch for seeds (whole ones
// are megabytes, too large for the fuzzer to mutate usefully).
func fuzzHandler(f *testing.F) (h *Handler, id string, keyHead, ctHead []byte) {
	if testing.Short() {
		f.Skip("a session's keys skipped in -short mode")
	}
	m, err := henn.Compile(testNet(f), henn.Options{Mode: henn.Slots})
	if err != nil {
		f.Fatal(err)
	}
	h, err = New(m, Config{MaxKeyBytes: 64 << 20, MaxCiphertextBytes: 4 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { h.Close() })
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	sess, err := c.NewSession(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	keys, cts := wireSamples(f, sess)
	return h, sess.ID, keys[:256], cts[:256]
}

// FuzzSessionBody: any POST /v1/session body gets 201, 400, 413 or 503,
// never a panic or a 500.
func FuzzSessionBody(f *testing.F) {
	h, _, keyHead, ctHead := fuzzHandler(f)
	var params bytes.Buffer
	if _, err := he.WriteParameters(&params, h.model.params()); err != nil {
		f.Fatal(err)
	}
	f.Add(keyHead)
	f.Add(ctHead)
	f.Add(params.Bytes())
	f.Add([]byte("KRELHE\x01\x00\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzPost(t, h, "/v1/session", body)
		if h.Sessions() > 1 {
			t.Fatalf("a fuzzed body made a session")
		}
	})
}

// FuzzInferBody: any POST /v1/session/{id}/infer body on a live session
// gets 200, 400, 413 or 503, never a panic or a 500.
func FuzzInferBody(f *testing.F) {
	h, id, keyHead, ctHead := fuzzHandler(f)
	f.Add(ctHead)
	f.Add(keyHead)
	f.Add([]byte("krelu.henn.ciphertexts/v1\n\x01\x01\x00\x01"))
	f.Add([]byte("krelu.henn.ciphertexts/v1\n\x00"))
	f.Fuzz(func(t *testing.T, body []byte) {
		fuzzPost(t, h, "/v1/session/"+id+"/infer", body)
	})
}
