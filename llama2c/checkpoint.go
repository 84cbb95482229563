package llama2c

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// Limits on header values. They are far above any llama2.c model and exist
// so that a corrupt header is rejected before any allocation is sized by it.
const (
	maxDim      = 1 << 14
	maxHidden   = 1 << 16
	maxLayers   = 1 << 8
	maxHeads    = 1 << 8
	maxVocab    = 1 << 18
	maxSeqLen   = 1 << 16
	maxFloats   = 1 << 31 // 8 GiB of float32
	headerBytes = 7 * 4
)

// Config is the checkpoint header.
type Config struct {
	Dim       int // transformer width
	HiddenDim int // FFN width
	NLayers   int
	NHeads    int // query heads
	NKVHeads  int // key/value heads (grouped-query attention when < NHeads)
	VocabSize int
	SeqLen    int // maximum sequence length
	// SharedClassifier reports whether the output classifier is the token
	// embedding (vocab_size stored positive) rather than a separate matrix.
	SharedClassifier bool
}

// HeadSize is the width of one attention head.
func (c Config) HeadSize() int { return c.Dim / c.NHeads }

// KVDim is the width of the key and value projections.
func (c Config) KVDim() int { return c.Dim * c.NKVHeads / c.NHeads }

// Validate checks the header for values that no real checkpoint has.
func (c Config) Validate() error {
	check := func(name string, v, max int) error {
		if v <= 0 || v > max {
			return fmt.Errorf("llama2c: header %s=%d out of range [1, %d]", name, v, max)
		}
		return nil
	}
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"dim", c.Dim, maxDim}, {"hidden_dim", c.HiddenDim, maxHidden}, {"n_layers", c.NLayers, maxLayers},
		{"n_heads", c.NHeads, maxHeads}, {"n_kv_heads", c.NKVHeads, maxHeads}, {"vocab_size", c.VocabSize, maxVocab},
		{"seq_len", c.SeqLen, maxSeqLen},
	} {
		if err := check(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	if c.Dim%c.NHeads != 0 {
		return fmt.Errorf("llama2c: dim=%d is not a multiple of n_heads=%d", c.Dim, c.NHeads)
	}
	if c.NKVHeads > c.NHeads || c.NHeads%c.NKVHeads != 0 {
		return fmt.Errorf("llama2c: n_heads=%d is not a multiple of n_kv_heads=%d", c.NHeads, c.NKVHeads)
	}
	if c.HeadSize()%2 != 0 {
		return fmt.Errorf("llama2c: head size %d is odd; rotary embeddings need pairs", c.HeadSize())
	}
	if c.numFloats() > maxFloats {
		return fmt.Errorf("llama2c: header describes %d weights, more than the %d this reader accepts", c.numFloats(), maxFloats)
	}
	return nil
}

// numFloats is the number of float32 values that follow the header. The
// limits in Validate keep it well inside int64.
func (c Config) numFloats() int64 {
	d, h, l, v, s := int64(c.Dim), int64(c.HiddenDim), int64(c.NLayers), int64(c.VocabSize), int64(c.SeqLen)
	kv := int64(c.KVDim())
	n := v*d + // token embedding
		l*d + // rms_att
		l*d*d + l*kv*d + l*kv*d + l*d*d + // wq wk wv wo
		l*d + // rms_ffn
		3*l*h*d + // w1 w2 w3
		d + // rms_final
		2*s*int64(c.HeadSize()/2) // freq_cis_real, freq_cis_imag
	if !c.SharedClassifier {
		n += v * d
	}
	return n
}

// FileSize is the exact byte size of a checkpoint with this header.
func (c Config) FileSize() int64 { return headerBytes + 4*c.numFloats() }

// Layer holds the weights of one transformer block. Matrices are
// row-major (out, in), as in llama2.c.
type Layer struct {
	RMSAtt []float32 // Dim
	WQ     []float32 // Dim × Dim
	WK     []float32 // KVDim × Dim
	WV     []float32 // KVDim × Dim
	WO     []float32 // Dim × Dim
	RMSFFN []float32 // Dim
	W1     []float32 // HiddenDim × Dim: the gate, whose output the activation sees
	W2     []float32 // Dim × HiddenDim
	W3     []float32 // HiddenDim × Dim
}

// Model is a loaded llama2.c checkpoint.
type Model struct {
	Config
	TokenEmbedding []float32 // VocabSize × Dim
	Layers         []Layer
	RMSFinal       []float32 // Dim
	FreqCisReal    []float32 // SeqLen × HeadSize/2
	FreqCisImag    []float32 // SeqLen × HeadSize/2
	Classifier     []float32 // VocabSize × Dim; aliases TokenEmbedding when shared
}

// Embedding returns the embedding row of token id.
func (m *Model) Embedding(id int) ([]float32, error) {
	if id < 0 || id >= m.VocabSize {
		return nil, fmt.Errorf("llama2c: token %d out of range [0, %d)", id, m.VocabSize)
	}
	return m.TokenEmbedding[id*m.Dim : (id+1)*m.Dim], nil
}

// ReadFile reads the checkpoint at path.
func ReadFile(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	m, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Read reads a checkpoint from r. The header is validated before the body
// is read, and any byte after the last expected weight is an error.
func Read(r io.Reader) (*Model, error) {
	var hdr [headerBytes]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("llama2c: reading %d-byte header: %w", headerBytes, truncated(err))
	}
	cfg, err := parseHeader(hdr[:])
	if err != nil {
		return nil, err
	}
	// Grow with the data actually read, so that a corrupt header cannot
	// make us allocate gigabytes up front.
	need := 4 * cfg.numFloats()
	body, err := io.ReadAll(io.LimitReader(r, need+1))
	if err != nil {
		return nil, fmt.Errorf("llama2c: reading weights: %w", err)
	}
	switch {
	case int64(len(body)) < need:
		return nil, fmt.Errorf("llama2c: checkpoint truncated: header needs %d bytes, have %d", cfg.FileSize(), headerBytes+int64(len(body)))
	case int64(len(body)) > need:
		return nil, fmt.Errorf("llama2c: trailing data after the %d bytes the header describes", cfg.FileSize())
	}
	return build(cfg, body)
}

// Parse decodes a checkpoint held in memory.
func Parse(b []byte) (*Model, error) {
	if len(b) < headerBytes {
		return nil, fmt.Errorf("llama2c: file is %d bytes, shorter than the %d-byte header", len(b), headerBytes)
	}
	cfg, err := parseHeader(b[:headerBytes])
	if err != nil {
		return nil, err
	}
	if want := cfg.FileSize(); int64(len(b)) != want {
		if int64(len(b)) < want {
			return nil, fmt.Errorf("llama2c: checkpoint truncated: header needs %d bytes, have %d", want, len(b))
		}
		return nil, fmt.Errorf("llama2c: size mismatch: header describes %d bytes, file has %d (not a legacy version-0 export?)", want, len(b))
	}
	return build(cfg, b[headerBytes:])
}

func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("file truncated")
	}
	return err
}

func parseHeader(b []byte) (Config, error) {
	var h [7]int32
	if err := binary.Read(bytes.NewReader(b), binary.LittleEndian, &h); err != nil {
		return Config{}, fmt.Errorf("llama2c: header: %w", err)
	}
	if h[0] == 0x616b3432 { // "ak42": llama2.c's version ≥ 1 export
		return Config{}, errors.New("llama2c: versioned export (magic ak42) not supported; only the legacy version-0 format is")
	}
	c := Config{
		Dim: int(h[0]), HiddenDim: int(h[1]), NLayers: int(h[2]), NHeads: int(h[3]),
		NKVHeads: int(h[4]), VocabSize: int(h[5]), SeqLen: int(h[6]), SharedClassifier: h[5] > 0,
	}
	if c.VocabSize < 0 {
		c.VocabSize = -c.VocabSize
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// build slices body (exactly cfg.numFloats() float32) into the weights.
func build(cfg Config, body []byte) (*Model, error) {
	all := make([]float32, len(body)/4)
	for i := range all {
		all[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:]))
	}
	for i, v := range all {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("llama2c: weight %d (byte offset %d) is %v", i, headerBytes+4*i, v)
		}
	}
	off := 0
	take := func(n int) []float32 {
		s := all[off : off+n : off+n]
		off += n
		return s
	}
	d, h, l, kv := cfg.Dim, cfg.HiddenDim, cfg.NLayers, cfg.KVDim()
	m := &Model{Config: cfg, Layers: make([]Layer, l)}
	m.TokenEmbedding = take(cfg.VocabSize * d)
	// The file stores each tensor for all layers contiguously.
	per := func(n int, set func(*Layer, []float32)) {
		block := take(l * n)
		for i := range m.Layers {
			set(&m.Layers[i], block[i*n:(i+1)*n:(i+1)*n])
		}
	}
	per(d, func(L *Layer, s []float32) { L.RMSAtt = s })
	per(d*d, func(L *Layer, s []float32) { L.WQ = s })
	per(kv*d, func(L *Layer, s []float32) { L.WK = s })
	per(kv*d, func(L *Layer, s []float32) { L.WV = s })
	per(d*d, func(L *Layer, s []float32) { L.WO = s })
	per(d, func(L *Layer, s []float32) { L.RMSFFN = s })
	per(h*d, func(L *Layer, s []float32) { L.W1 = s })
	per(d*h, func(L *Layer, s []float32) { L.W2 = s })
	per(h*d, func(L *Layer, s []float32) { L.W3 = s })
	m.RMSFinal = take(d)
	half := cfg.HeadSize() / 2
	m.FreqCisReal = take(cfg.SeqLen * half)
	m.FreqCisImag = take(cfg.SeqLen * half)
	if cfg.SharedClassifier {
		m.Classifier = m.TokenEmbedding
	} else {
		m.Classifier = take(cfg.VocabSize * d)
	}
	if off != len(all) {
		return nil, fmt.Errorf("llama2c: internal error: consumed %d of %d weights", off, len(all))
	}
	return m, nil
}
