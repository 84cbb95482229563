package serve

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/henn"
)

// Client talks to a Handler. Its secret key is made and kept in the
// Session; only evaluation keys and ciphertexts are sent.
type Client struct {
	BaseURL string       // e.g. "http://127.0.0.1:8080"
	HTTP    *http.Client // nil: http.DefaultClient
}

// Session is one set of keys registered with the server.
type Session struct {
	ID     string
	Info   ModelInfo
	Layout henn.Layout

	c      *Client
	client *henn.Client
	// Byte counts of request and response bodies so far, keys included.
	Sent, Received int64
	KeyBytes       int64
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("serve: %s %s: reading response: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("serve: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Model fetches and checks the server's ModelInfo and returns it with the
// henn.Layout it describes.
func (c *Client) Model(ctx context.Context) (*ModelInfo, henn.Layout, error) {
	b, err := c.do(ctx, http.MethodGet, "/v1/model", nil)
	if err != nil {
		return nil, henn.Layout{}, err
	}
	var info ModelInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, henn.Layout{}, fmt.Errorf("serve: model info: %w", err)
	}
	if info.Format != InfoFormat {
		return nil, henn.Layout{}, fmt.Errorf("serve: model info format %q, want %q", info.Format, InfoFormat)
	}
	// he.ReadParameters rejects parameters below 128-bit security, so a
	// server cannot talk the client into weak keys.
	params, err := he.ReadParameters(bytes.NewReader(info.Parameters))
	if err != nil {
		return nil, henn.Layout{}, fmt.Errorf("serve: model parameters: %w", err)
	}
	if fp := he.Fingerprint(params); hex.EncodeToString(fp[:]) != info.Fingerprint {
		return nil, henn.Layout{}, fmt.Errorf("serve: parameters fingerprint %x does not match the advertised %s", fp, info.Fingerprint)
	}
	li := info.Layout
	l := henn.Layout{Params: params, InputDim: li.InputDim, OutputDim: li.OutputDim, Level: li.Level,
		Block: li.Block, Stride: li.Stride, InPeriod: li.InPeriod, OutPeriod: li.OutPeriod, Copies: li.Copies, CopyShift: li.CopyShift}
	switch li.Mode {
	case henn.Packed.String():
		l.Mode = henn.Packed
	case henn.Slots.String():
		l.Mode = henn.Slots
	default:
		return nil, henn.Layout{}, fmt.Errorf("serve: unsupported layout mode %q", li.Mode)
	}
	return &info, l, nil
}

// NewSession fetches the model, makes a secret key locally and registers
// the matching evaluation keys with the server.
func (c *Client) NewSession(ctx context.Context) (*Session, error) {
	info, l, err := c.Model(ctx)
	if err != nil {
		return nil, err
	}
	hc, err := henn.NewClient(l.Params)
	if err != nil {
		return nil, err
	}
	evk, err := hc.EvaluationKeys(info.Rotations)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := evk.WriteTo(&buf); err != nil {
		return nil, err
	}
	s := &Session{Info: *info, Layout: l, c: c, client: hc, KeyBytes: int64(buf.Len())}
	b, err := c.do(ctx, http.MethodPost, "/v1/session", buf.Bytes())
	s.Sent += int64(buf.Len())
	if err != nil {
		return nil, err
	}
	s.Received += int64(len(b))
	var resp struct{ ID string }
	if err := json.Unmarshal(b, &resp); err != nil || resp.ID == "" {
		return nil, fmt.Errorf("serve: session response %q has no id", b)
	}
	s.ID = resp.ID
	return s, nil
}

// Classify encrypts inputs, has the server evaluate them and decrypts the
// logits, one row per input.
func (s *Session) Classify(ctx context.Context, inputs [][]float64) ([][]float64, error) {
	ct, err := s.client.EncryptBatch(s.Layout, inputs)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := ct.WriteTo(&buf, s.Layout.Params); err != nil {
		return nil, err
	}
	b, err := s.c.do(ctx, http.MethodPost, "/v1/session/"+s.ID+"/infer", buf.Bytes())
	s.Sent += int64(buf.Len())
	if err != nil {
		return nil, err
	}
	s.Received += int64(len(b))
	out, err := henn.ReadCiphertexts(bytes.NewReader(b), s.Layout.Params)
	if err != nil {
		return nil, fmt.Errorf("serve: reading the server's result: %w", err)
	}
	logits, err := s.client.DecryptLogits(s.Layout, out)
	if err != nil {
		return nil, err
	}
	if len(logits) != len(inputs) {
		return nil, fmt.Errorf("serve: server returned %d results for %d inputs", len(logits), len(inputs))
	}
	return logits, nil
}
