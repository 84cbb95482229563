package transformer

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// ClientFormat tags a client-table file (ClientTables.Save).
const ClientFormat = "krelu.transformer.client/v1"

// ClientTables is what a client of a served HE-friendly encoder needs, and
// nothing more: the vocabulary, the embedding lookup as the client
// computes it ([Model.TokenRows]: the token table E·P + b, the embedding
// already projected, and the learned positions), the shape to check
// against the server's model description, and the fingerprint of the
// encoder it belongs to. It holds no attention, normalisation, FFN or
// classifier weight: in outsourced inference the model owner hands it to
// clients and keeps the rest on the server.
type ClientTables struct {
	// Task and Preprocess are the model's (Saved.Task, Saved.Preprocess).
	Task, Preprocess string
	Vocab            *Vocab
	// Dim, Heads, MaxTokens, Layers and Classes are the encoder's shape
	// (henn.Encoder, henn.NewEncoderLayout's arguments).
	Dim, Heads, MaxTokens, Layers, Classes int
	// Tokens is the Vocab.Len()×Dim table E·P + b, row-major: row id is
	// the projected embedding of word id.
	Tokens []float64
	// Positions is the MaxTokens×Dim table of learned positions.
	Positions []float64
	// Encoder is henn.Encoder.Fingerprint of the model's exported encoder
	// (Model.Encoder): a server publishes the fingerprint of what it
	// serves, and a client compares the two before making keys.
	Encoder [32]byte
}

// ClientTables extracts the client's share of s, an HE-friendly model
// (one Model.Encoder exports). TokenRows of the result equals
// s.Model.TokenRows bit for bit.
func (s *Saved) ClientTables() (*ClientTables, error) {
	m := s.Model
	e, err := m.Encoder()
	if err != nil {
		return nil, err
	}
	// E·P + b for every word at once: Linear.Forward computes each row
	// exactly as it does for the rows of one sentence.
	tok := m.Proj.Forward(m.Emb.Mat())
	c := &ClientTables{Task: s.Task, Preprocess: s.Preprocess, Vocab: s.Vocab,
		Dim: m.Cfg.Dim, Heads: m.Cfg.Heads, MaxTokens: m.Cfg.MaxLen, Layers: m.Cfg.Layers, Classes: m.Cfg.Classes,
		Tokens: append([]float64(nil), tok.RawMatrix().Data...), Positions: append([]float64(nil), m.Pos.W...),
		Encoder: e.Fingerprint()}
	if c.Task == "" {
		c.Task, c.Preprocess = TaskSST2, PreprocessSST2
	}
	return c, c.validate()
}

// TokenRows is the embedding lookup of [Model.TokenRows]: row t is
// Tokens[ids[t]] + Positions[t].
func (c *ClientTables) TokenRows(ids []int) ([][]float64, error) {
	if len(ids) == 0 {
		return nil, ErrEmptyInput
	}
	if len(ids) > c.MaxTokens {
		return nil, fmt.Errorf("transformer: %d tokens exceed the model's maximum length %d", len(ids), c.MaxTokens)
	}
	n := c.Vocab.Len()
	rows := make([][]float64, len(ids))
	for t, id := range ids {
		if id < 0 || id >= n {
			return nil, fmt.Errorf("transformer: token id %d outside vocabulary [0, %d)", id, n)
		}
		r := append([]float64(nil), c.Tokens[id*c.Dim:(id+1)*c.Dim]...)
		for j, p := range c.Positions[t*c.Dim : (t+1)*c.Dim] {
			r[j] += p
		}
		rows[t] = r
	}
	return rows, nil
}

// CheckTask returns an error unless c belongs to a model trained for task.
func (c *ClientTables) CheckTask(task string) error {
	if c.Task != task {
		return fmt.Errorf("transformer: the model was trained for %s, not %s", c.Task, task)
	}
	return nil
}

// validate checks shapes and finiteness.
func (c *ClientTables) validate() error {
	switch {
	case c.Dim < 1 || c.Dim > 1<<16 || c.Heads < 1 || c.Dim%c.Heads != 0:
		return fmt.Errorf("transformer: client tables of width %d with %d heads", c.Dim, c.Heads)
	case c.MaxTokens < 1 || c.MaxTokens > 1<<16 || c.Layers < 1 || c.Layers > 8 || c.Classes < 2 || c.Classes > 1<<16:
		return fmt.Errorf("transformer: client tables for %d tokens, %d layers, %d classes", c.MaxTokens, c.Layers, c.Classes)
	case c.Vocab == nil || c.Vocab.Len() < 1:
		return errors.New("transformer: client tables without a vocabulary")
	case len(c.Tokens) != c.Vocab.Len()*c.Dim:
		return fmt.Errorf("transformer: token table of %d values for %d words of width %d", len(c.Tokens), c.Vocab.Len(), c.Dim)
	case len(c.Positions) != c.MaxTokens*c.Dim:
		return fmt.Errorf("transformer: position table of %d values for %d tokens of width %d", len(c.Positions), c.MaxTokens, c.Dim)
	}
	for _, tab := range [][]float64{c.Tokens, c.Positions} {
		for _, v := range tab {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return errors.New("transformer: client tables hold a non-finite value")
			}
		}
	}
	return nil
}

// clientFile is the gob form of ClientTables.
type clientFile struct {
	Format, Task, Preprocess               string
	Vocab                                  []string
	Dim, Heads, MaxTokens, Layers, Classes int
	Tokens, Positions                      []float64
	Encoder                                []byte
}

// Save writes c in a gob encoding tagged ClientFormat.
func (c *ClientTables) Save(w io.Writer) error {
	if err := c.validate(); err != nil {
		return err
	}
	return gob.NewEncoder(w).Encode(&clientFile{Format: ClientFormat, Task: c.Task, Preprocess: c.Preprocess,
		Vocab: c.Vocab.Words, Dim: c.Dim, Heads: c.Heads, MaxTokens: c.MaxTokens, Layers: c.Layers, Classes: c.Classes,
		Tokens: c.Tokens, Positions: c.Positions, Encoder: c.Encoder[:]})
}

// SaveFile writes c to path.
func (c *ClientTables) SaveFile(path string) error { return writeFile(path, c.Save) }

// ErrNotClientTables is wrapped by LoadClientTables' error for a file that
// is not a client-table file.
var ErrNotClientTables = errors.New("not a krelu client-table file")

// LoadClientTables reads a file written by ClientTables.Save, checking its
// format, shapes and values.
func LoadClientTables(r io.Reader) (*ClientTables, error) {
	var f clientFile
	// As in Load: the decoder's messages name Go types, so a decoding
	// failure is reported as what it is.
	if err := gob.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("%w (it could not be decoded: another kind of file, truncated or corrupt; write one with krelu sst2 export --client)", ErrNotClientTables)
	}
	return f.tables()
}

func (f *clientFile) tables() (*ClientTables, error) {
	if f.Format != ClientFormat {
		return nil, fmt.Errorf("%w: format %q, this build reads %q", ErrNotClientTables, f.Format, ClientFormat)
	}
	if len(f.Encoder) != 32 {
		return nil, fmt.Errorf("%w: the encoder fingerprint has %d bytes, want 32", ErrNotClientTables, len(f.Encoder))
	}
	if len(f.Vocab) == 0 || f.Vocab[0] != UnkToken {
		return nil, fmt.Errorf("transformer: client vocabulary of %d words does not start with %s", len(f.Vocab), UnkToken)
	}
	v := NewVocab(f.Vocab[1:])
	if v.Len() != len(f.Vocab) {
		return nil, errors.New("transformer: client vocabulary has duplicate words")
	}
	c := &ClientTables{Task: f.Task, Preprocess: f.Preprocess, Vocab: v, Dim: f.Dim, Heads: f.Heads, MaxTokens: f.MaxTokens,
		Layers: f.Layers, Classes: f.Classes, Tokens: f.Tokens, Positions: f.Positions}
	copy(c.Encoder[:], f.Encoder)
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// LoadClientFile reads, at path, either a client-table file or a whole
// model (Saved.Save; HE-friendly). It returns the client tables and, for a
// model file, the model too (nil for a table file): with the model a
// client can also compute the plaintext logits it reports agreement with.
func LoadClientFile(path string) (*ClientTables, *Saved, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var head struct{ Format string }
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&head); err != nil {
		return nil, nil, fmt.Errorf("%s: %w: nor a transformer model (it could not be decoded: another kind of file, truncated or corrupt)", path, ErrNotClientTables)
	}
	switch head.Format {
	case ModelFormat:
		s, err := Load(bytes.NewReader(b))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		c, err := s.ClientTables()
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return c, s, nil
	case ClientFormat:
		c, err := LoadClientTables(bytes.NewReader(b))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		return c, nil, nil
	}
	return nil, nil, fmt.Errorf("%s: %w: nor a transformer model (format %q; this build reads %q and %q)", path, ErrNotClientTables, head.Format, ClientFormat, ModelFormat)
}

// ClientExport reports what ExportClient wrote.
type ClientExport struct {
	Model      string `json:"model"`
	Output     string `json:"output"`
	Words      int    `json:"vocabulary"`
	Dim        int    `json:"dim"`
	MaxTokens  int    `json:"max_tokens"`
	Layers     int    `json:"layers"`
	Bytes      int64  `json:"bytes"`       // the table file
	ModelBytes int64  `json:"model_bytes"` // the whole model file
	Encoder    string `json:"encoder_weights_sha256"`
}

// ExportClient writes the client tables of the HE-friendly model at
// modelPath to out (see ClientTables).
func ExportClient(modelPath, out string) (*ClientExport, error) {
	s, err := LoadFile(modelPath)
	if err != nil {
		return nil, err
	}
	c, err := s.ClientTables()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", modelPath, err)
	}
	if err := c.SaveFile(out); err != nil {
		return nil, err
	}
	rep := &ClientExport{Model: modelPath, Output: out, Words: c.Vocab.Len(), Dim: c.Dim, MaxTokens: c.MaxTokens, Layers: c.Layers,
		Encoder: fmt.Sprintf("%x", c.Encoder)}
	for _, f := range []struct {
		path string
		n    *int64
	}{{out, &rep.Bytes}, {modelPath, &rep.ModelBytes}} {
		st, err := os.Stat(f.path)
		if err != nil {
			return nil, err
		}
		*f.n = st.Size()
	}
	return rep, nil
}
