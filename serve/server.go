package serve

import (
	"bytes"
	"container/list"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/henn"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// InfoFormat names the version of ModelInfo.
const InfoFormat = "krelu.serve.model/v1"

// ContentType is the media type of every POST body and binary response.
const ContentType = "application/octet-stream"

// Config bounds what a Handler accepts. A zero field takes its default; a
// negative one is an error of New.
type Config struct {
	// MaxKeyBytes bounds a POST /v1/session body. The default is derived
	// from the served model: its evaluation-key set (public,
	// relinearization and one Galois key per rotation the model uses) plus
	// 1 MiB for the framing, rounded up to whole MiB (DefaultMaxKeyBytes)
	// — what an honest client sends, and nothing more.
	MaxKeyBytes int64
	// MaxCiphertextBytes bounds a POST /v1/session/{id}/infer body
	// (default 64 MiB).
	MaxCiphertextBytes int64
	// MaxSessions is how many sessions are kept (default 8).
	MaxSessions int
	// MaxKeyMemory bounds the key material held by all sessions together
	// (default 1 GiB, or MaxKeyBytes when that is larger, so that one key
	// set of the served model always fits). A new session that does not
	// fit evicts the least recently used idle sessions; when the rest are
	// busy it gets 503.
	MaxKeyMemory int64
	// SessionTTL drops a session unused for this long (default 10 min).
	SessionTTL time.Duration
	// ReadTimeout bounds the reading of one request body, from the moment
	// the handler starts (default 1 min): a client that sends part of a body
	// and goes silent is cut off with 408 and its connection closed.
	ReadTimeout time.Duration
	// Timeout bounds the evaluation of one batch, waiting for a free
	// evaluation slot included (default 2 min). An evaluation cannot be
	// interrupted: on timeout the client gets 503 while the work finishes.
	Timeout time.Duration
	// MaxEvaluations bounds the batches evaluated at once (default
	// GOMAXPROCS); more wait for a slot within Timeout.
	MaxEvaluations int
	// Task names the data the model was trained for (e.g. "mnist"); it is
	// advertised in ModelInfo so that a client can refuse the wrong data.
	Task string
}

// Defaults of Config (MaxKeyBytes: DefaultMaxKeyBytes).
const (
	DefaultMaxCiphertextBytes = 64 << 20
	DefaultMaxSessions        = 8
	DefaultMaxKeyMemory       = 1 << 30
	DefaultSessionTTL         = 10 * time.Minute
	DefaultReadTimeout        = time.Minute
	DefaultTimeout            = 2 * time.Minute
)

// DefaultMaxKeyBytes is Config.MaxKeyBytes' default for a model with
// these parameters and rotations: the size of its evaluation-key set plus
// 1 MiB for the framing, rounded up to whole MiB (67 MiB for the
// 784-128-10 MNIST network at LogN 13, 623 MiB for the one-layer SST-2
// encoder at LogN 14).
func DefaultMaxKeyBytes(params ckks.Parameters, rotations int) int64 {
	const mb = 1 << 20
	return (keySetBytes(params, rotations) + mb + mb - 1) / mb * mb
}

// check fills in the defaults; keySet is DefaultMaxKeyBytes of the model.
func (c Config) check(keySet int64) (Config, error) {
	for _, f := range []struct {
		name string
		v    int64
	}{{"MaxKeyBytes", c.MaxKeyBytes}, {"MaxCiphertextBytes", c.MaxCiphertextBytes}, {"MaxSessions", int64(c.MaxSessions)},
		{"MaxKeyMemory", c.MaxKeyMemory}, {"MaxEvaluations", int64(c.MaxEvaluations)}, {"SessionTTL", int64(c.SessionTTL)}, {"ReadTimeout", int64(c.ReadTimeout)}, {"Timeout", int64(c.Timeout)}} {
		if f.v < 0 {
			return c, fmt.Errorf("serve: Config.%s is negative (%d); use a positive value, or 0 for the default", f.name, f.v)
		}
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxKeyBytes, keySet)
	def(&c.MaxCiphertextBytes, DefaultMaxCiphertextBytes)
	def(&c.MaxKeyMemory, max(DefaultMaxKeyMemory, c.MaxKeyBytes))
	def((*int64)(&c.SessionTTL), int64(DefaultSessionTTL))
	def((*int64)(&c.ReadTimeout), int64(DefaultReadTimeout))
	def((*int64)(&c.Timeout), int64(DefaultTimeout))
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.MaxEvaluations == 0 {
		c.MaxEvaluations = runtime.GOMAXPROCS(0)
	}
	return c, nil
}

// LayoutInfo is henn.Layout without its parameters (sent separately).
type LayoutInfo struct {
	Mode      string `json:"mode"`
	InputDim  int    `json:"input_dim"`
	OutputDim int    `json:"output_dim"`
	Level     int    `json:"level"`
	Block     int    `json:"block"`
	Stride    int    `json:"stride"`
	InPeriod  int    `json:"in_period"`
	OutPeriod int    `json:"out_period"`
	Copies    int    `json:"copies"`
	CopyShift int    `json:"copy_shift"`
}

// ModelInfo is the body of GET /v1/model: everything a client needs to
// make keys and encrypt, and no weights.
type ModelInfo struct {
	Format      string `json:"format"`
	Fingerprint string `json:"fingerprint"` // hex of he.Fingerprint
	Preset      string `json:"preset"`
	LogN        int    `json:"log_n"`
	Depth       int    `json:"depth"`
	// Task is the data the model was trained for ("" when unknown).
	Task string `json:"task,omitempty"`
	// Parameters is he.WriteParameters' output (base64 in JSON).
	Parameters    []byte     `json:"parameters"`
	Layout        LayoutInfo `json:"layout"`
	Rotations     []int      `json:"rotations"`
	InputDim      int        `json:"input_dim"`
	Classes       int        `json:"classes"`
	PerCiphertext int        `json:"inputs_per_ciphertext"`
	// Encoder describes a transformer encoder (Layout.Mode "encoder"):
	// the shape a client rebuilds the henn.EncoderLayout from. Nil for a
	// network.
	Encoder     *EncoderInfo `json:"encoder,omitempty"`
	MaxKeyBytes int64        `json:"max_key_bytes"`
	MaxCtBytes  int64        `json:"max_ciphertext_bytes"`
}

// EncoderInfo is the public shape of an encrypted transformer encoder
// (henn.NewEncoderLayout's arguments): no weights.
type EncoderInfo struct {
	Dim       int `json:"dim"`
	Heads     int `json:"heads"`
	MaxTokens int `json:"max_tokens"`
	Classes   int `json:"classes"`
	Layers    int `json:"layers"`
	// Weights is the hex of henn.Encoder.Fingerprint, the SHA-256 of the
	// served encoder's weights: a client's embedding tables record the
	// fingerprint of the encoder they were exported with
	// (transformer.ClientTables), and a client checks the two agree
	// before it makes any key. It reveals no weight.
	Weights string `json:"weights_sha256"`
}

// EncoderMode is LayoutInfo.Mode of a served transformer encoder.
const EncoderMode = "encoder"

// Handler serves one compiled model. Safe for concurrent use. Call Close
// to stop its session janitor.
type Handler struct {
	model   backend
	cfg     Config
	info    []byte
	h       http.Handler
	uploads chan struct{} // bounds key uploads being decoded at once
	evals   chan struct{} // bounds evaluations running at once

	mu       sync.Mutex
	sessions map[string]*list.Element // of *session
	lru      *list.List               // front: most recent
	keyBytes int64                    // key material held by all sessions
	done     chan struct{}
	closed   bool
	now      func() time.Time // the clock; tests move it
}

type session struct {
	id       string
	server   evaluator
	keyBytes int64 // its evaluation keys (the encoded weights are shared)
	lastUsed time.Time
	busy     int // requests in flight
}

// New returns a Handler for m, a network compiled by henn.Compile.
func New(m *henn.Model, cfg Config) (*Handler, error) {
	if m == nil {
		return nil, errors.New("serve: nil model")
	}
	l := m.Layout()
	if l.Mode != henn.Packed && l.Mode != henn.Slots {
		return nil, fmt.Errorf("serve: model layout %s: want a network compiled in packed or slots mode", l.Mode)
	}
	if m.NeedsBootstrapKeys() {
		// A session would hold the client's bootstrapping keys (4 GB at
		// LogN 15) and the bootstrapping evaluator (≈ 6 GB): see
		// docs/deep.md. Run such models with krelu infer --encrypted.
		return nil, fmt.Errorf("serve: the model bootstraps (%d bootstraps per ciphertext under %s); serving bootstrapping models is not supported (bootstrapping keys take gigabytes per session): run it with krelu infer --encrypted", len(m.Bootstraps()), m.Preset())
	}
	w, err := henn.EncodeWeights(m)
	if err != nil {
		return nil, err
	}
	info := ModelInfo{Preset: m.Preset(), Depth: m.Depth(),
		Layout: LayoutInfo{Mode: l.Mode.String(), InputDim: l.InputDim, OutputDim: l.OutputDim, Level: l.Level,
			Block: l.Block, Stride: l.Stride, InPeriod: l.InPeriod, OutPeriod: l.OutPeriod, Copies: l.Copies, CopyShift: l.CopyShift},
		InputDim: l.InputDim, Classes: l.OutputDim, PerCiphertext: l.PerCiphertext()}
	return newHandler(&network{m: m, w: w}, info, cfg)
}

// NewEncoder returns a Handler for m, a transformer encoder compiled by
// henn.CompileEncoder. Its diagonals are encoded once, here
// (henn.EncodeEncoderWeights, up to 1 GiB; Stats.WeightsBytes), and shared
// by every session, which holds only the client's evaluation keys (counted
// against Config.MaxKeyMemory). A request carries one group of two
// ciphertexts per sentence, the token matrix and the length mask of
// henn.Client.EncryptEncoderInput; the answer, one group of one
// ciphertext (the logits) per sentence.
func NewEncoder(m *henn.EncoderModel, cfg Config) (*Handler, error) {
	if m == nil {
		return nil, errors.New("serve: nil encoder model")
	}
	l := m.Layout()
	ei := &EncoderInfo{Dim: l.Dim, Heads: l.Heads, MaxTokens: l.MaxTokens, Classes: l.Classes, Layers: l.Layers()}
	// The client rebuilds the layout from ei alone: check here, once, that
	// it gets the one the model was compiled with.
	if got, err := henn.NewEncoderLayout(m.Params(), ei.Dim, ei.Heads, ei.MaxTokens, ei.Classes, ei.Layers); err != nil || !reflect.DeepEqual(got, l) {
		return nil, fmt.Errorf("serve: the encoder's layout cannot be rebuilt from its public shape (%v)", err)
	}
	info := ModelInfo{Preset: m.Preset(), Depth: m.Depth(),
		Layout:   LayoutInfo{Mode: EncoderMode, InputDim: l.Dim, OutputDim: l.Classes, Level: l.Level, Block: l.Block},
		InputDim: l.Dim, Classes: l.Classes, PerCiphertext: 1, Encoder: ei}
	fp := m.Fingerprint()
	ei.Weights = hex.EncodeToString(fp[:])
	cfg, err := cfg.check(DefaultMaxKeyBytes(m.Params(), len(m.Rotations())))
	if err != nil {
		return nil, err
	}
	// An encoder's key set is large (44 Galois keys ≈ 650 MB at LogN 14):
	// limits set explicitly that no client could meet are an error now,
	// not a 413 after each client's key generation.
	if need := keySetBytes(m.Params(), len(m.Rotations())); need > cfg.MaxKeyBytes || need > cfg.MaxKeyMemory {
		return nil, fmt.Errorf("serve: this encoder's evaluation keys take about %.0f MiB (%d rotation keys at LogN %d), more than the key upload limit of %.0f MiB (krelu serve --max-key-mb) or the key memory of %.0f MiB (--max-key-memory-mb); leave both unset for limits sized to this model",
			mib(need), len(m.Rotations()), m.Params().LogN(), mib(cfg.MaxKeyBytes), mib(cfg.MaxKeyMemory))
	}
	w, err := henn.EncodeEncoderWeights(m)
	if err != nil {
		return nil, err
	}
	return newHandler(&encoder{m: m, w: w}, info, cfg)
}

// keySetBytes is the size of a key set of rotations Galois keys for params
// (public, relinearization and Galois keys; he's framing adds a few KB).
func keySetBytes(params ckks.Parameters, rotations int) int64 {
	return int64(rlwe.NewPublicKey(params).BinarySize()) + int64(rlwe.NewRelinearizationKey(params).BinarySize()) +
		int64(rotations)*int64(rlwe.NewGaloisKey(params).BinarySize())
}

func newHandler(b backend, info ModelInfo, cfg Config) (*Handler, error) {
	cfg, err := cfg.check(DefaultMaxKeyBytes(b.params(), len(b.rotations())))
	if err != nil {
		return nil, err
	}
	params := b.params()
	var pb bytes.Buffer
	if _, err := he.WriteParameters(&pb, params); err != nil {
		return nil, err
	}
	fp := he.Fingerprint(params)
	rot := b.rotations()
	if rot == nil {
		rot = []int{}
	}
	info.Format, info.Fingerprint, info.LogN, info.Task, info.Parameters = InfoFormat, hex.EncodeToString(fp[:]), params.LogN(), cfg.Task, pb.Bytes()
	info.Rotations, info.MaxKeyBytes, info.MaxCtBytes = rot, cfg.MaxKeyBytes, cfg.MaxCiphertextBytes
	js, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	s := &Handler{model: b, cfg: cfg, info: js, uploads: make(chan struct{}, 2), evals: make(chan struct{}, cfg.MaxEvaluations),
		sessions: map[string]*list.Element{}, lru: list.New(), done: make(chan struct{}), now: time.Now}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/model", s.getModel)
	mux.HandleFunc("POST /v1/session", s.postSession)
	mux.HandleFunc("POST /v1/session/{id}/infer", s.postInfer)
	s.h = mux
	go s.janitor()
	return s, nil
}

// ServeHTTP implements http.Handler. It sets the connection's read deadline
// (Config.ReadTimeout) and write deadline before anything reads the body,
// so a stalled client cannot hold a connection, a goroutine and a
// partially read body for longer than that.
func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	now := time.Now()
	// Not every ResponseWriter supports deadlines (e.g. httptest.Recorder);
	// a real http.Server's does.
	_ = rc.SetReadDeadline(now.Add(s.cfg.ReadTimeout))
	_ = rc.SetWriteDeadline(now.Add(s.cfg.Timeout + s.cfg.ReadTimeout))
	s.h.ServeHTTP(w, r)
}

// Close stops the janitor and drops every session.
func (s *Handler) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	clear(s.sessions)
	s.lru.Init()
	s.keyBytes = 0
	return nil
}

// janitor drops expired sessions even when no request arrives.
func (s *Handler) janitor() {
	t := time.NewTicker(max(time.Second, s.cfg.SessionTTL/4))
	defer t.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
			s.mu.Lock()
			s.expire(s.now())
			s.mu.Unlock()
		}
	}
}

// Stats is a snapshot of what a Handler holds.
type Stats struct {
	Sessions     int   `json:"sessions"`
	KeyBytes     int64 `json:"key_bytes"`     // key material of all sessions
	WeightsBytes int64 `json:"weights_bytes"` // encoded weights shared by all sessions, made once at load
}

// Stats reports the sessions and memory held.
func (s *Handler) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Sessions: s.lru.Len(), KeyBytes: s.keyBytes, WeightsBytes: s.model.sharedBytes()}
}

// Config returns the limits in force, defaults filled in.
func (s *Handler) Config() Config { return s.cfg }

// Sessions reports how many sessions are held.
func (s *Handler) Sessions() int { return s.Stats().Sessions }

func (s *Handler) getModel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.info)
}

func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), code)
}

// readErr is a request body that remembers its first read failure: the
// decoders report malformed data in their own words, but a body over the
// limit or past its deadline is not malformed.
type readErr struct {
	io.ReadCloser
	err error
}

func (b *readErr) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

// bodyError maps a read failure to 413 when the limit was hit, 408 when the
// read deadline passed, else 400.
func bodyError(w http.ResponseWriter, r *http.Request, what string, err error, readTimeout time.Duration) {
	if b, ok := r.Body.(*readErr); ok && b.err != nil {
		err = b.err
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		httpError(w, http.StatusRequestEntityTooLarge, "serve: %s larger than the limit of %d bytes", what, mbe.Limit)
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		httpError(w, http.StatusRequestTimeout, "serve: %s not received within %v", what, readTimeout)
		return
	}
	httpError(w, http.StatusBadRequest, "serve: malformed %s: %v", what, err)
}

// body checks r's media type and applies max to its body, rejecting a
// declared length over it early.
func body(w http.ResponseWriter, r *http.Request, what string, max int64) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != ContentType {
		httpError(w, http.StatusUnsupportedMediaType, "serve: %s must be sent as Content-Type %s, not %q", what, ContentType, r.Header.Get("Content-Type"))
		return false
	}
	if r.ContentLength > max {
		httpError(w, http.StatusRequestEntityTooLarge, "serve: %s of %d bytes is larger than the limit of %d bytes", what, r.ContentLength, max)
		return false
	}
	r.Body = &readErr{ReadCloser: http.MaxBytesReader(w, r.Body, max)}
	return true
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

func (s *Handler) postSession(w http.ResponseWriter, r *http.Request) {
	if !body(w, r, "evaluation keys", s.cfg.MaxKeyBytes) {
		return
	}
	// The declared size is a cheap first test of whether keys can fit.
	if r.ContentLength > 0 {
		s.mu.Lock()
		ok := s.admit(r.ContentLength, false)
		s.mu.Unlock()
		if !ok {
			s.full(w, r.ContentLength)
			return
		}
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-r.Context().Done():
		return
	}
	// Only an evaluation-key frame for the model's parameters is parsed: a
	// body holding anything else (parameters, a ciphertext, keys for other
	// parameters, any other bytes) fails its header check before the
	// payload is read.
	params := s.model.params()
	evk, err := he.ReadEvaluationKeysFor(r.Body, params)
	if errors.Is(err, he.ErrOtherParameters) {
		want := he.Fingerprint(params)
		httpError(w, http.StatusBadRequest, "serve: evaluation keys are for other parameters; the model uses %x (LogN %d), see GET /v1/model", want, params.LogN())
		return
	}
	if err != nil {
		bodyError(w, r, "evaluation keys", err, s.cfg.ReadTimeout)
		return
	}
	// Keys for rotations the model does not use are dropped at once.
	evk.Retain(s.model.rotations()...)
	srv, err := s.model.newEvaluator(evk)
	if err != nil {
		httpError(w, http.StatusBadRequest, "serve: evaluation keys rejected: %v", err)
		return
	}
	var id [16]byte
	rand.Read(id[:])
	sess := &session{id: hex.EncodeToString(id[:]), server: srv, keyBytes: evk.Size()}
	s.mu.Lock()
	sess.lastUsed = s.now()
	if !s.admit(sess.keyBytes, true) {
		s.mu.Unlock()
		s.full(w, sess.keyBytes)
		return
	}
	s.sessions[sess.id] = s.lru.PushFront(sess)
	s.keyBytes += sess.keyBytes
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(sessionResponse{ID: sess.id, Bytes: sess.keyBytes})
}

// sessionResponse is the body of a created session: its id and the
// memory it holds on the server (counted against Config.MaxKeyMemory).
type sessionResponse struct {
	ID    string `json:"id"`
	Bytes int64  `json:"session_bytes"`
}

// admit reports whether a session holding size bytes of keys fits, after
// dropping expired sessions and, when evict is set, as many of the least
// recently used idle ones as it takes. Nothing is evicted unless the
// session then fits. s.mu is held.
func (s *Handler) admit(size int64, evict bool) bool {
	s.expire(s.now())
	if size > s.cfg.MaxKeyMemory {
		return false
	}
	fits := func(n int, bytes int64) bool {
		return n < s.cfg.MaxSessions && bytes+size <= s.cfg.MaxKeyMemory
	}
	n, bytes := s.lru.Len(), s.keyBytes
	for e := s.lru.Back(); e != nil && !fits(n, bytes); e = e.Prev() {
		if sess := e.Value.(*session); sess.busy == 0 {
			n, bytes = n-1, bytes-sess.keyBytes
		}
	}
	if !fits(n, bytes) {
		return false
	}
	for e := s.lru.Back(); evict && e != nil && !fits(s.lru.Len(), s.keyBytes); {
		prev := e.Prev()
		if e.Value.(*session).busy == 0 {
			s.drop(e)
		}
		e = prev
	}
	return true
}

// full answers 503 for a session of size bytes that does not fit.
func (s *Handler) full(w http.ResponseWriter, size int64) {
	st := s.Stats()
	if size > s.cfg.MaxKeyMemory {
		httpError(w, http.StatusServiceUnavailable, "serve: a session of %.1f MiB of evaluation keys exceeds the server's key memory of %.1f MiB (krelu serve --max-key-memory-mb)",
			mib(size), mib(s.cfg.MaxKeyMemory))
		return
	}
	w.Header().Set("Retry-After", strconv.Itoa(10))
	httpError(w, http.StatusServiceUnavailable, "serve: server full: %d busy sessions hold %.1f MiB of its %.1f MiB key memory (at most %d sessions); retry later",
		st.Sessions, mib(st.KeyBytes), mib(s.cfg.MaxKeyMemory), s.cfg.MaxSessions)
}

// expire drops idle sessions unused for longer than the TTL. s.mu is held.
func (s *Handler) expire(now time.Time) {
	for e := s.lru.Back(); e != nil; {
		prev := e.Prev()
		sess := e.Value.(*session)
		if now.Sub(sess.lastUsed) <= s.cfg.SessionTTL {
			break // the list is in order of use
		}
		if sess.busy == 0 {
			s.drop(e)
		}
		e = prev
	}
}

func (s *Handler) drop(e *list.Element) {
	sess := e.Value.(*session)
	delete(s.sessions, sess.id)
	s.keyBytes -= sess.keyBytes
	s.lru.Remove(e)
}

// acquire finds a session and marks it busy; release undoes that.
func (s *Handler) acquire(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(s.now())
	e, ok := s.sessions[id]
	if !ok {
		return nil
	}
	s.lru.MoveToFront(e)
	sess := e.Value.(*session)
	sess.busy++
	sess.lastUsed = s.now()
	return sess
}

func (s *Handler) release(sess *session) {
	s.mu.Lock()
	sess.busy--
	sess.lastUsed = s.now()
	s.mu.Unlock()
}

func (s *Handler) postInfer(w http.ResponseWriter, r *http.Request) {
	if !body(w, r, "ciphertext batch", s.cfg.MaxCiphertextBytes) {
		return
	}
	sess := s.acquire(r.PathValue("id"))
	if sess == nil {
		httpError(w, http.StatusNotFound, "serve: unknown session %q (expired or never created); POST /v1/session first", r.PathValue("id"))
		return
	}
	defer s.release(sess)
	in, err := henn.ReadCiphertexts(r.Body, s.model.params())
	if err != nil {
		bodyError(w, r, "ciphertext batch", err, s.cfg.ReadTimeout)
		return
	}
	if len(in.Groups) == 0 {
		httpError(w, http.StatusBadRequest, "serve: empty ciphertext batch")
		return
	}
	if err := s.model.checkBatch(in); err != nil {
		httpError(w, http.StatusBadRequest, "serve: %v", err)
		return
	}
	out, err := s.evaluate(r.Context(), sess, in)
	if errors.Is(err, context.DeadlineExceeded) {
		httpError(w, http.StatusServiceUnavailable, "serve: the evaluation did not finish within %v (krelu serve --timeout); send smaller batches or retry later", s.cfg.Timeout)
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the client is gone
	}
	if err != nil {
		httpError(w, http.StatusBadRequest, "serve: cannot evaluate this batch: %v", err)
		return
	}
	var buf bytes.Buffer
	if _, err := out.WriteTo(&buf, s.model.params()); err != nil {
		httpError(w, http.StatusInternalServerError, "serve: writing the result: %v", err)
		return
	}
	w.Header().Set("Content-Type", ContentType)
	w.Write(buf.Bytes())
}

// evaluate runs in on sess within Config.Timeout, waiting for an
// evaluation slot first. On timeout it returns context.DeadlineExceeded
// while the evaluation, which cannot be interrupted, finishes in the
// background holding its slot and its session.
func (s *Handler) evaluate(ctx context.Context, sess *session, in *henn.Ciphertexts) (*henn.Ciphertexts, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	select {
	case s.evals <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	type result struct {
		out *henn.Ciphertexts
		err error
	}
	done := make(chan result, 1)
	s.mu.Lock()
	sess.busy++ // held by the goroutine until the work is done
	s.mu.Unlock()
	go func() {
		defer func() { <-s.evals; s.release(sess) }()
		out, err := sess.server.Evaluate(in)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// busy reports the requests in flight on session id (for tests).
func (s *Handler) busy(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.sessions[id]; ok {
		return e.Value.(*session).busy
	}
	return 0
}

// NewHTTPServer returns an http.Server for h with deadlines on the request
// headers (at most 10 s, or h's ReadTimeout when shorter) and on idle
// keep-alive connections, and a bound on header size. The body deadlines
// are h's own (see Handler.ServeHTTP).
func NewHTTPServer(h *Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(10*time.Second, h.cfg.ReadTimeout),
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
