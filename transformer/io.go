package transformer

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/krelu/krelu/approx"
)

// ModelFormat tags a saved model.
const ModelFormat = "krelu.transformer/v1"

type modelFile struct {
	Format    string
	Cfg       Config
	ActName   string
	ActPoly   []float64 // nil for ReLU
	TrainEmb  bool
	LearnRows []bool
	Vocab     []string
	Params    map[string][]float64
	Info      map[string]string
	// Task and Preprocess are absent (empty) in files written before
	// krelu recorded them; Load fills in the only values those had.
	Task       string
	Preprocess string
}

// TaskSST2 is the task of the SST-2 classifier (the only one so far), and
// PreprocessSST2 how its sentences become token ids (Tokenize, then the
// model's vocabulary, unknown words → UNK).
const (
	TaskSST2       = "sst2"
	PreprocessSST2 = "lower-case, split on white space (PTB tokens), vocabulary ids, unknown → <unk>"
)

// ErrNotModel is wrapped by Load's error for a file that is not a krelu
// transformer model.
var ErrNotModel = errors.New("not a krelu transformer model")

// Saved is a model with its vocabulary and free-form provenance.
type Saved struct {
	Model *Model
	Vocab *Vocab
	Info  map[string]string
	// Task and Preprocess say what the model was trained for; Save writes
	// TaskSST2 and PreprocessSST2 when they are empty.
	Task, Preprocess string
}

// CheckTask returns an error unless s was trained for task.
func (s *Saved) CheckTask(task string) error {
	if s.Task != task {
		return fmt.Errorf("transformer: the model was trained for %s, not %s", s.Task, task)
	}
	return nil
}

// Save writes s in a gob encoding tagged ModelFormat.
func (s *Saved) Save(w io.Writer) error {
	m := s.Model
	if s.Vocab.Len() != m.Cfg.Vocab {
		return fmt.Errorf("transformer: vocabulary has %d words, model %d", s.Vocab.Len(), m.Cfg.Vocab)
	}
	f := modelFile{Format: ModelFormat, Cfg: m.Cfg, ActName: m.Act.Name, ActPoly: m.Act.Poly,
		TrainEmb: m.TrainEmb, LearnRows: m.LearnRows, Vocab: s.Vocab.Words, Params: map[string][]float64{}, Info: s.Info,
		Task: s.Task, Preprocess: s.Preprocess}
	if f.Task == "" {
		f.Task, f.Preprocess = TaskSST2, PreprocessSST2
	}
	for _, p := range m.Params() {
		f.Params[p.Name] = p.W
	}
	return gob.NewEncoder(w).Encode(&f)
}

// SaveFile writes s to path.
func (s *Saved) SaveFile(path string) error { return writeFile(path, s.Save) }

// writeFile creates path and writes it with save; an error of save names
// the path.
func writeFile(path string, save func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := save(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// Load reads a model written by Save, checking its format and shapes.
func Load(r io.Reader) (*Saved, error) {
	var f modelFile
	// The decoder's own messages name Go types and wire ids: they say
	// nothing to a user, so any decoding failure is reported as what it is.
	if err := gob.NewDecoder(r).Decode(&f); err != nil {
		return nil, fmt.Errorf("%w (it could not be decoded: another kind of file, truncated or corrupt; write one with krelu sst2 train)", ErrNotModel)
	}
	if f.Format != ModelFormat {
		return nil, fmt.Errorf("%w: format %q, this build reads %q", ErrNotModel, f.Format, ModelFormat)
	}
	if f.Task == "" { // written before tasks were recorded: SST-2 was the only one
		f.Task, f.Preprocess = TaskSST2, PreprocessSST2
	}
	act := ReLU
	if f.ActPoly != nil {
		act = PolyActivation(f.ActName, approx.Poly(f.ActPoly))
	}
	m, err := New(f.Cfg, act, nil)
	if err != nil {
		return nil, err
	}
	m.TrainEmb = f.TrainEmb
	if f.LearnRows != nil && len(f.LearnRows) != f.Cfg.Vocab {
		return nil, fmt.Errorf("transformer: %d learnable-row flags for %d words", len(f.LearnRows), f.Cfg.Vocab)
	}
	m.LearnRows = f.LearnRows
	for _, p := range m.Params() {
		w, ok := f.Params[p.Name]
		if !ok {
			return nil, fmt.Errorf("transformer: model lacks parameter %s", p.Name)
		}
		if len(w) != len(p.W) {
			return nil, fmt.Errorf("transformer: parameter %s has %d values, want %d", p.Name, len(w), len(p.W))
		}
		copy(p.W, w)
	}
	if len(f.Vocab) != f.Cfg.Vocab || len(f.Vocab) == 0 || f.Vocab[0] != UnkToken {
		return nil, fmt.Errorf("transformer: model vocabulary has %d words (want %d, starting with %s)", len(f.Vocab), f.Cfg.Vocab, UnkToken)
	}
	v := NewVocab(f.Vocab[1:])
	if v.Len() != f.Cfg.Vocab {
		return nil, fmt.Errorf("transformer: model vocabulary has duplicate words")
	}
	return &Saved{Model: m, Vocab: v, Info: f.Info, Task: f.Task, Preprocess: f.Preprocess}, nil
}

// LoadFile reads the model at path.
func LoadFile(path string) (*Saved, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
