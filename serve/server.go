package serve

import (
	"bytes"
	"container/list"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/henn"
)

// InfoFormat names the version of ModelInfo.
const InfoFormat = "krelu.serve.model/v1"

// Config bounds what a Handler accepts. Zero fields take the defaults.
type Config struct {
	// MaxKeyBytes bounds a POST /v1/session body (default 512 MiB).
	MaxKeyBytes int64
	// MaxCiphertextBytes bounds a POST /v1/session/{id}/infer body
	// (default 64 MiB).
	MaxCiphertextBytes int64
	// MaxSessions is how many sessions are kept; the least recently used
	// one is dropped to make room (default 8). Each holds a key set, which
	// can be hundreds of MB, so this bounds the server's memory.
	MaxSessions int
	// Timeout bounds one request (default 2 min). An evaluation cannot be
	// interrupted: on timeout the client gets 503 while the work finishes.
	Timeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxKeyBytes <= 0 {
		c.MaxKeyBytes = 512 << 20
	}
	if c.MaxCiphertextBytes <= 0 {
		c.MaxCiphertextBytes = 64 << 20
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	return c
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
	// Parameters is he.WriteParameters' output (base64 in JSON).
	Parameters    []byte     `json:"parameters"`
	Layout        LayoutInfo `json:"layout"`
	Rotations     []int      `json:"rotations"`
	InputDim      int        `json:"input_dim"`
	Classes       int        `json:"classes"`
	PerCiphertext int        `json:"inputs_per_ciphertext"`
	MaxKeyBytes   int64      `json:"max_key_bytes"`
	MaxCtBytes    int64      `json:"max_ciphertext_bytes"`
}

// Handler serves one compiled model. Safe for concurrent use.
type Handler struct {
	model *henn.Model
	cfg   Config
	info  []byte
	h     http.Handler

	mu       sync.Mutex
	sessions map[string]*list.Element // of *session
	lru      *list.List               // front: most recent
}

type session struct {
	id     string
	server *henn.Server
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
	cfg = cfg.withDefaults()
	var pb bytes.Buffer
	if _, err := he.WriteParameters(&pb, m.Params()); err != nil {
		return nil, err
	}
	fp := he.Fingerprint(m.Params())
	rot := m.Rotations()
	if rot == nil {
		rot = []int{}
	}
	info, err := json.Marshal(ModelInfo{Format: InfoFormat, Fingerprint: hex.EncodeToString(fp[:]),
		Preset: m.Preset(), LogN: m.Params().LogN(), Depth: m.Depth(), Parameters: pb.Bytes(),
		Layout: LayoutInfo{Mode: l.Mode.String(), InputDim: l.InputDim, OutputDim: l.OutputDim, Level: l.Level,
			Block: l.Block, Stride: l.Stride, InPeriod: l.InPeriod, OutPeriod: l.OutPeriod, Copies: l.Copies, CopyShift: l.CopyShift},
		Rotations: rot, InputDim: l.InputDim, Classes: l.OutputDim, PerCiphertext: l.PerCiphertext(),
		MaxKeyBytes: cfg.MaxKeyBytes, MaxCtBytes: cfg.MaxCiphertextBytes})
	if err != nil {
		return nil, err
	}
	s := &Handler{model: m, cfg: cfg, info: info, sessions: map[string]*list.Element{}, lru: list.New()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/model", s.getModel)
	mux.HandleFunc("POST /v1/session", s.postSession)
	mux.HandleFunc("POST /v1/session/{id}/infer", s.postInfer)
	s.h = http.TimeoutHandler(mux, cfg.Timeout, "serve: request timed out\n")
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.ServeHTTP(w, r) }

// Sessions reports how many sessions are held.
func (s *Handler) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

func (s *Handler) getModel(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.info)
}

func httpError(w http.ResponseWriter, code int, format string, args ...any) {
	http.Error(w, fmt.Sprintf(format, args...), code)
}

// bodyError maps a read failure to 413 when the limit was hit, else 400.
func bodyError(w http.ResponseWriter, what string, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		httpError(w, http.StatusRequestEntityTooLarge, "serve: %s larger than the limit of %d bytes", what, mbe.Limit)
		return
	}
	httpError(w, http.StatusBadRequest, "serve: malformed %s: %v", what, err)
}

// limit applies max to r's body, rejecting a declared length over it early.
func limit(w http.ResponseWriter, r *http.Request, what string, max int64) bool {
	if r.ContentLength > max {
		httpError(w, http.StatusRequestEntityTooLarge, "serve: %s of %d bytes is larger than the limit of %d bytes", what, r.ContentLength, max)
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	return true
}

func (s *Handler) postSession(w http.ResponseWriter, r *http.Request) {
	if !limit(w, r, "evaluation keys", s.cfg.MaxKeyBytes) {
		return
	}
	// Only the evaluation-key frame is parsed here: a body holding anything
	// else (parameters, a ciphertext, any other bytes) fails its header check.
	evk, err := he.ReadEvaluationKeys(r.Body)
	if err != nil {
		bodyError(w, "evaluation keys", err)
		return
	}
	params := s.model.Params()
	if fp, want := he.Fingerprint(evk.Params), he.Fingerprint(params); fp != want || !evk.Params.Equal(&params) {
		httpError(w, http.StatusBadRequest, "serve: evaluation keys are for parameters %x (LogN %d); the model uses %x (LogN %d), see GET /v1/model",
			fp, evk.Params.LogN(), want, params.LogN())
		return
	}
	srv, err := henn.NewServer(s.model, evk)
	if err != nil {
		httpError(w, http.StatusBadRequest, "serve: evaluation keys rejected: %v", err)
		return
	}
	var id [16]byte
	rand.Read(id[:])
	sess := &session{id: hex.EncodeToString(id[:]), server: srv}
	s.mu.Lock()
	for s.lru.Len() >= s.cfg.MaxSessions {
		old := s.lru.Back()
		delete(s.sessions, old.Value.(*session).id)
		s.lru.Remove(old)
	}
	s.sessions[sess.id] = s.lru.PushFront(sess)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{"id": sess.id})
}

func (s *Handler) lookup(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.sessions[id]
	if !ok {
		return nil
	}
	s.lru.MoveToFront(e)
	return e.Value.(*session)
}

func (s *Handler) postInfer(w http.ResponseWriter, r *http.Request) {
	sess := s.lookup(r.PathValue("id"))
	if sess == nil {
		httpError(w, http.StatusNotFound, "serve: unknown session %q (expired or never created); POST /v1/session first", r.PathValue("id"))
		return
	}
	if !limit(w, r, "ciphertext batch", s.cfg.MaxCiphertextBytes) {
		return
	}
	in, err := henn.ReadCiphertexts(r.Body, s.model.Params())
	if err != nil {
		bodyError(w, "ciphertext batch", err)
		return
	}
	if len(in.Groups) == 0 {
		httpError(w, http.StatusBadRequest, "serve: empty ciphertext batch")
		return
	}
	out, err := sess.server.Evaluate(in)
	if err != nil {
		httpError(w, http.StatusBadRequest, "serve: cannot evaluate this batch: %v", err)
		return
	}
	var buf bytes.Buffer
	if _, err := out.WriteTo(&buf, s.model.Params()); err != nil {
		httpError(w, http.StatusInternalServerError, "serve: writing the result: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(buf.Bytes())
}
