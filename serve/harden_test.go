package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/krelu/krelu/henn"
)

// slowPost sends the headers of a POST announcing n body bytes, then only
// prefix (a valid start, so that the decoder waits for more), and waits
// for the server's answer. It returns the
// status (0 when the server closed the connection without one) and how long
// the server took to give up.
func slowPost(t *testing.T, addr, path string, n int, prefix []byte) (int, time.Duration) {
	code, _, took := slowPostBody(t, addr, path, n, prefix)
	return code, took
}

func slowPostBody(t *testing.T, addr, path string, n int, prefix []byte) (int, string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", path, addr, ContentType, n)
	c.Write(prefix)
	// The client now goes silent; only the server may end this.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	took := time.Since(start)
	if err != nil {
		return 0, "", took
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), took
}

// TestSlowBody: a client that sends part of a body and goes silent is cut
// off by the read deadline (408), on both POST endpoints, over a real
// loopback connection.
func TestSlowBody(t *testing.T) {
	const readTimeout = 1500 * time.Millisecond
	h, ts := newTestServer(t, testNet(t), henn.Options{Mode: henn.Slots}, Config{ReadTimeout: readTimeout, Timeout: 30 * time.Second})
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	sess, err := c.NewSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	keys, cts := wireSamples(t, sess)
	addr := strings.TrimPrefix(ts.URL, "http://")
	for _, tc := range []struct {
		path string
		body []byte
	}{{"/v1/session", keys}, {"/v1/session/" + sess.ID + "/infer", cts}} {
		path := tc.path
		code, msg, took := slowPostBody(t, addr, path, len(tc.body), tc.body[:len(tc.body)/2])
		if code != http.StatusRequestTimeout && code != 0 {
			t.Errorf("%s, stalled body: status %d %q; want 408 or a closed connection", path, code, msg)
		}
		// Cut off by the deadline, not at once, and long before the
		// 30 s request timeout (generous bound: the machine is shared).
		if took < readTimeout/2 || took > readTimeout+15*time.Second {
			t.Errorf("%s, stalled body: cut off after %v; want about %v", path, took, readTimeout)
		}
	}
	if h.Sessions() != 1 || h.busy(sess.ID) != 0 {
		t.Errorf("%d sessions (%d busy) after stalled uploads; want 1, idle", h.Sessions(), h.busy(sess.ID))
	}
}

// TestSlowHeaders: NewHTTPServer's header deadline closes a connection
// whose request line never ends.
func TestSlowHeaders(t *testing.T) {
	m, err := henn.Compile(testNet(t), henn.Options{Mode: henn.Slots})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(m, Config{ReadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ts := httptest.NewUnstartedServer(h)
	ts.Config = NewHTTPServer(h)
	ts.Start()
	defer ts.Close()
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	fmt.Fprintf(c, "POST /v1/session HTTP/1.1\r\nHost: x\r\n")
	c.SetReadDeadline(time.Now().Add(time.Minute))
	_, err = io.ReadAll(c)
	if took := time.Since(start); err != nil || took > 15*time.Second {
		t.Errorf("stalled headers: connection ended after %v (%v); want a close after about 300 ms", took, err)
	}
}

func TestContentType(t *testing.T) {
	_, ts := newTestServer(t, testNet(t), henn.Options{Mode: henn.Slots}, Config{})
	for _, ct := range []string{"", "text/plain", "application/json", "multipart/form-data; boundary=x"} {
		for _, path := range []string{"/v1/session", "/v1/session/00/infer"} {
			req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader("x"))
			if ct != "" {
				req.Header.Set("Content-Type", ct)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(b), ContentType) {
				t.Errorf("POST %s as %q: %d %q; want 415 naming %s", path, ct, resp.StatusCode, b, ContentType)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/session", strings.NewReader("x"))
	req.Header.Set("Content-Type", "application/octet-stream; charset=binary")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("octet-stream with a parameter: %d; want 400 (accepted type, malformed keys)", resp.StatusCode)
	}
}

func TestConfigChecked(t *testing.T) {
	m, err := henn.Compile(testNet(t), henn.Options{Mode: henn.Slots})
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []Config{{MaxSessions: -1}, {Timeout: -time.Second}, {MaxKeyMemory: -5}, {SessionTTL: -1}, {ReadTimeout: -1}, {MaxKeyBytes: -1}} {
		if _, err := New(m, cfg); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("New(%+v): %v; want an error", cfg, err)
		}
	}
	h, err := New(m, Config{Task: "mnist"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if !bytes.Contains(h.info, []byte(`"task":"mnist"`)) {
		t.Errorf("model info does not advertise the task: %s", h.info[:200])
	}
}

// TestKeyMemoryLimit: a session that cannot fit while the others are busy
// gets a 503 naming the limit; once they are idle it evicts the least
// recently used one; a key set larger than the whole limit gets a 503 at
// once.
func TestKeyMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("four key sets skipped in -short mode")
	}
	m, err := henn.Compile(testNet(t), henn.Options{Mode: henn.Slots})
	if err != nil {
		t.Fatal(err)
	}
	probe, ts0 := newTestServer(t, testNet(t), henn.Options{Mode: henn.Slots}, Config{})
	c0 := &Client{BaseURL: ts0.URL, HTTP: ts0.Client()}
	if _, err := c0.NewSession(context.Background()); err != nil {
		t.Fatal(err)
	}
	one := probe.Stats().KeyBytes
	if one <= 0 {
		t.Fatalf("a session holds %d key bytes", one)
	}

	h, err := New(m, Config{MaxKeyMemory: one + one/2})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ts := httptest.NewServer(h)
	defer ts.Close()
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	ctx := context.Background()
	a, err := c.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Keep a busy: a request on it whose body stops halfway; the test
	// ends it by closing the connection.
	_, cts := wireSamples(t, a)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/session/%s/infer HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n", a.ID, ContentType, len(cts))
	conn.Write(cts[:len(cts)/2])
	waitBusy := func(want bool) {
		for deadline := time.Now().Add(2 * time.Minute); (h.busy(a.ID) > 0) != want; {
			if time.Now().After(deadline) {
				t.Fatalf("session busy: %v, want %v", !want, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitBusy(true)
	_, err = c.NewSession(ctx)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "key memory") {
		t.Errorf("second session while the first is busy: %v; want a 503 naming the key memory", err)
	}
	conn.Close()
	waitBusy(false)
	b, err := c.NewSession(ctx)
	if err != nil {
		t.Fatalf("second session once the first is idle: %v", err)
	}
	if st := h.Stats(); st.Sessions != 1 || st.KeyBytes != one {
		t.Errorf("after eviction: %+v; want 1 session of %d bytes", st, one)
	}
	if _, err := b.Classify(ctx, testInputs(1, 16)); err != nil {
		t.Error(err)
	}
	if _, err := a.Classify(ctx, testInputs(1, 16)); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("evicted session: %v; want a 404", err)
	}

	small, err := New(m, Config{MaxKeyMemory: one / 2})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	ts2 := httptest.NewServer(small)
	defer ts2.Close()
	c2 := &Client{BaseURL: ts2.URL, HTTP: ts2.Client()}
	if _, err := c2.NewSession(ctx); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("key set over the whole limit: %v; want a 503", err)
	}
}

// TestSessionTTL: an idle session expires (on the handler's clock, which
// the test moves, so that a loaded machine cannot make it flaky).
func TestSessionTTL(t *testing.T) {
	h, ts := newTestServer(t, testNet(t), henn.Options{Mode: henn.Slots}, Config{SessionTTL: time.Minute})
	clock := time.Now()
	h.mu.Lock()
	h.now = func() time.Time { return clock }
	h.mu.Unlock()
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	sess, err := c.NewSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	advance := func(d time.Duration) {
		h.mu.Lock()
		clock = clock.Add(d)
		h.mu.Unlock()
	}
	advance(50 * time.Second) // used again within the TTL: kept
	if _, err := sess.Classify(context.Background(), testInputs(1, 16)); err != nil {
		t.Fatal(err)
	}
	advance(61 * time.Second)
	if _, err := sess.Classify(context.Background(), testInputs(1, 16)); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("session idle past its TTL: %v; want a 404", err)
	}
	if h.Sessions() != 0 {
		t.Errorf("%d sessions held after the TTL", h.Sessions())
	}
}

// wireSamples returns a valid evaluation-key body and ciphertext batch for
// sess's parameters (made by a fresh client: only their framing matters).
func wireSamples(t testing.TB, sess *Session) (keys, cts []byte) {
	t.Helper()
	hc, err := henn.NewClient(sess.Layout.Params)
	if err != nil {
		t.Fatal(err)
	}
	evk, err := hc.EvaluationKeys(sess.Info.Rotations)
	if err != nil {
		t.Fatal(err)
	}
	var kb, cb bytes.Buffer
	if _, err := evk.WriteTo(&kb); err != nil {
		t.Fatal(err)
	}
	ct, err := hc.EncryptBatch(sess.Layout, testInputs(1, sess.Info.InputDim))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ct.WriteTo(&cb, sess.Layout.Params); err != nil {
		t.Fatal(err)
	}
	return kb.Bytes(), cb.Bytes()
}

// TestEvaluationTimeout: an evaluation that outlives Config.Timeout is
// answered 503 naming the limit.
func TestEvaluationTimeout(t *testing.T) {
	_, ts := newTestServer(t, testNet(t), henn.Options{Mode: henn.Packed}, Config{Timeout: time.Microsecond})
	c := &Client{BaseURL: ts.URL, HTTP: ts.Client()}
	sess, err := c.NewSession(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = sess.Classify(context.Background(), testInputs(4, 16))
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "did not finish within 1µs") {
		t.Errorf("evaluation past a 1 µs timeout: %v; want a 503 naming the limit", err)
	}
}

// TestNoSecretKeyOnServer keeps the security property checkable: no
// non-test source of the server names a secret key or a key owner (the
// client side reaches them only through henn.Client, in client.go).
func TestNoSecretKeyOnServer(t *testing.T) {
	for _, f := range []string{"server.go", "doc.go"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"SecretKey", "KeyOwner", "NewClient", "GenKeyPair", "Decrypt"} {
			if bytes.Contains(b, []byte(bad)) && !(f == "doc.go" && (bad == "SecretKey" || bad == "KeyOwner")) {
				t.Errorf("%s mentions %s: the server must never hold a secret key", f, bad)
			}
		}
	}
}
