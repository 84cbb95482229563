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
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
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

// info fetches the server's ModelInfo and checks its parameters.
func (c *Client) info(ctx context.Context) (*ModelInfo, ckks.Parameters, error) {
	b, err := c.do(ctx, http.MethodGet, "/v1/model", nil)
	if err != nil {
		return nil, ckks.Parameters{}, err
	}
	var info ModelInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, ckks.Parameters{}, fmt.Errorf("serve: the server's model description is not valid JSON")
	}
	if info.Format != InfoFormat {
		return nil, ckks.Parameters{}, fmt.Errorf("serve: model info format %q, want %q", info.Format, InfoFormat)
	}
	// he.ReadParameters rejects parameters below 128-bit security, so a
	// server cannot talk the client into weak keys.
	params, err := he.ReadParameters(bytes.NewReader(info.Parameters))
	if err != nil {
		return nil, ckks.Parameters{}, fmt.Errorf("serve: model parameters: %w", err)
	}
	if fp := he.Fingerprint(params); hex.EncodeToString(fp[:]) != info.Fingerprint {
		return nil, ckks.Parameters{}, fmt.Errorf("serve: parameters fingerprint %x does not match the advertised %s", fp, info.Fingerprint)
	}
	return &info, params, nil
}

// Info fetches and checks the server's ModelInfo, whatever it serves: the
// first call of a client that must check the task or the kind of model
// before making any key.
func (c *Client) Info(ctx context.Context) (*ModelInfo, error) {
	info, _, err := c.info(ctx)
	return info, err
}

// Model fetches and checks the server's ModelInfo and returns it with the
// henn.Layout it describes.
func (c *Client) Model(ctx context.Context) (*ModelInfo, henn.Layout, error) {
	info, params, err := c.info(ctx)
	if err != nil {
		return nil, henn.Layout{}, err
	}
	li := info.Layout
	l := henn.Layout{Params: params, InputDim: li.InputDim, OutputDim: li.OutputDim, Level: li.Level,
		Block: li.Block, Stride: li.Stride, InPeriod: li.InPeriod, OutPeriod: li.OutPeriod, Copies: li.Copies, CopyShift: li.CopyShift}
	switch li.Mode {
	case henn.Packed.String():
		l.Mode = henn.Packed
	case henn.Slots.String():
		l.Mode = henn.Slots
	case EncoderMode:
		return nil, henn.Layout{}, fmt.Errorf("serve: the server serves a transformer encoder; use Client.NewEncoderSession")
	default:
		return nil, henn.Layout{}, fmt.Errorf("serve: unsupported layout mode %q", li.Mode)
	}
	return info, l, nil
}

// EncoderModel fetches and checks the ModelInfo of a server that serves a
// transformer encoder and returns it with the henn.EncoderLayout rebuilt
// from its public shape.
func (c *Client) EncoderModel(ctx context.Context) (*ModelInfo, henn.EncoderLayout, error) {
	info, params, err := c.info(ctx)
	if err != nil {
		return nil, henn.EncoderLayout{}, err
	}
	ei := info.Encoder
	if info.Layout.Mode != EncoderMode || ei == nil {
		return nil, henn.EncoderLayout{}, fmt.Errorf("serve: the server serves a %s network, not a transformer encoder", info.Layout.Mode)
	}
	l, err := henn.NewEncoderLayout(params, ei.Dim, ei.Heads, ei.MaxTokens, ei.Classes, ei.Layers)
	if err != nil {
		return nil, henn.EncoderLayout{}, fmt.Errorf("serve: the server's encoder description: %w", err)
	}
	if l.Level != info.Layout.Level || l.Block != info.Layout.Block {
		return nil, henn.EncoderLayout{}, fmt.Errorf("serve: the server's encoder layout (level %d, block %d) is not the one its shape gives (level %d, block %d)",
			info.Layout.Level, info.Layout.Block, l.Level, l.Block)
	}
	return info, l, nil
}

// register makes the evaluation keys for rotations, sends them and
// returns the session id and the size of the keys sent.
func (c *Client) register(ctx context.Context, hc *henn.Client, rotations []int) (resp sessionResponse, keyBytes int64, received int64, err error) {
	evk, err := hc.EvaluationKeys(rotations)
	if err != nil {
		return resp, 0, 0, err
	}
	var buf bytes.Buffer
	if _, err := evk.WriteTo(&buf); err != nil {
		return resp, 0, 0, err
	}
	keyBytes = int64(buf.Len())
	b, err := c.do(ctx, http.MethodPost, "/v1/session", buf.Bytes())
	if err != nil {
		return resp, keyBytes, 0, err
	}
	if err := json.Unmarshal(b, &resp); err != nil || resp.ID == "" {
		return resp, keyBytes, int64(len(b)), fmt.Errorf("serve: session response %q has no id", b)
	}
	return resp, keyBytes, int64(len(b)), nil
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
	s := &Session{Info: *info, Layout: l, c: c, client: hc}
	var resp sessionResponse
	resp, s.KeyBytes, s.Received, err = c.register(ctx, hc, info.Rotations)
	s.ID, s.Sent = resp.ID, s.KeyBytes
	if err != nil {
		return nil, err
	}
	return s, nil
}

// infer posts one batch of ciphertexts to session id's infer endpoint and
// reads the server's result, adding the bytes to *sent and *received.
func (c *Client) infer(ctx context.Context, id string, params ckks.Parameters, in *henn.Ciphertexts, sent, received *int64) (*henn.Ciphertexts, error) {
	var buf bytes.Buffer
	if _, err := in.WriteTo(&buf, params); err != nil {
		return nil, err
	}
	b, err := c.do(ctx, http.MethodPost, "/v1/session/"+id+"/infer", buf.Bytes())
	*sent += int64(buf.Len())
	if err != nil {
		return nil, err
	}
	*received += int64(len(b))
	out, err := henn.ReadCiphertexts(bytes.NewReader(b), params)
	if err != nil {
		return nil, fmt.Errorf("serve: reading the server's result: %w", err)
	}
	return out, nil
}

// Classify encrypts inputs, has the server evaluate them and decrypts the
// logits, one row per input.
func (s *Session) Classify(ctx context.Context, inputs [][]float64) ([][]float64, error) {
	ct, err := s.client.EncryptBatch(s.Layout, inputs)
	if err != nil {
		return nil, err
	}
	out, err := s.c.infer(ctx, s.ID, s.Layout.Params, ct, &s.Sent, &s.Received)
	if err != nil {
		return nil, err
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

// EncoderSession is one set of keys registered with a server that serves
// a transformer encoder.
type EncoderSession struct {
	ID     string
	Info   ModelInfo
	Layout henn.EncoderLayout

	c      *Client
	client *henn.Client
	// Byte counts of request and response bodies so far, keys included.
	Sent, Received int64
	KeyBytes       int64
	// ServerBytes is the memory the server holds for the session (keys
	// and its own encoded diagonals), as it reported.
	ServerBytes int64
}

// NewEncoderSession fetches the encoder's public shape, makes a secret key
// locally and registers the matching evaluation keys with the server.
func (c *Client) NewEncoderSession(ctx context.Context) (*EncoderSession, error) {
	info, l, err := c.EncoderModel(ctx)
	if err != nil {
		return nil, err
	}
	hc, err := henn.NewClient(l.Params)
	if err != nil {
		return nil, err
	}
	s := &EncoderSession{Info: *info, Layout: l, c: c, client: hc}
	var resp sessionResponse
	resp, s.KeyBytes, s.Received, err = c.register(ctx, hc, info.Rotations)
	s.ID, s.Sent, s.ServerBytes = resp.ID, s.KeyBytes, resp.Bytes
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Classify encrypts each sentence (its token rows: the client's embedding
// lookup, 1 … Layout.MaxTokens rows of Layout.Dim features) with its
// length mask, has the server evaluate the encoder and decrypts the
// logits, one row per sentence. All sentences go in one request.
func (s *EncoderSession) Classify(ctx context.Context, sentences [][][]float64) ([][]float64, error) {
	if len(sentences) == 0 {
		return nil, fmt.Errorf("serve: no sentences")
	}
	batch := &henn.Ciphertexts{}
	for i, x := range sentences {
		in, err := s.client.EncryptEncoderInput(s.Layout, x)
		if err != nil {
			return nil, fmt.Errorf("serve: sentence %d: %w", i, err)
		}
		batch.Groups = append(batch.Groups, []*rlwe.Ciphertext{in.X, in.Mask})
		batch.Counts = append(batch.Counts, 1)
	}
	out, err := s.c.infer(ctx, s.ID, s.Layout.Params, batch, &s.Sent, &s.Received)
	if err != nil {
		return nil, err
	}
	if len(out.Groups) != len(sentences) {
		return nil, fmt.Errorf("serve: server returned %d results for %d sentences", len(out.Groups), len(sentences))
	}
	logits := make([][]float64, len(sentences))
	for i, g := range out.Groups {
		if len(g) != 1 {
			return nil, fmt.Errorf("serve: server returned %d ciphertexts for sentence %d, want 1", len(g), i)
		}
		if logits[i], err = s.client.DecryptEncoderLogits(s.Layout, g[0]); err != nil {
			return nil, fmt.Errorf("serve: sentence %d: %w", i, err)
		}
	}
	return logits, nil
}
