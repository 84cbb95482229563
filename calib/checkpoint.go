package calib

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/krelu/krelu/format/gguf"
	"github.com/krelu/krelu/format/safetensors"
	"github.com/krelu/krelu/llama2c"
)

// Matrix is a row-major float32 matrix read from a checkpoint: one row per
// unit that must not straddle a calibration/held-out split (a token).
type Matrix struct {
	Name       string // tensor name in the checkpoint
	Rows, Cols int
	Data       []float32
}

// Row returns row i.
func (m *Matrix) Row(i int) []float32 { return m.Data[i*m.Cols : (i+1)*m.Cols] }

// EmbeddingTensorNames are the token-embedding tensor names of the
// checkpoint layouts CheckpointEmbeddings knows, tried in this order:
// Hugging Face Llama, Mistral, Qwen and Gemma ("model.embed_tokens.weight"),
// Meta's original Llama ("tok_embeddings.weight"), GPT-2
// ("transformer.wte.weight", "wte.weight") and llama.cpp's GGUF
// ("token_embd.weight").
var EmbeddingTensorNames = []string{
	"model.embed_tokens.weight",
	"tok_embeddings.weight",
	"transformer.wte.weight",
	"wte.weight",
	"embed_tokens.weight",
	"token_embd.weight",
}

// IsCheckpoint reports whether path names a safetensors or GGUF file, by
// its extension.
func IsCheckpoint(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors", ".gguf":
		return true
	}
	return false
}

// CheckpointEmbeddings reads the token-embedding matrix (vocabulary ×
// width) of an LLM checkpoint in safetensors (.safetensors) or GGUF
// (.gguf) format, F32, F16 or BF16. Only that tensor is read, so a
// multi-gigabyte checkpoint costs one embedding's worth of memory.
func CheckpointEmbeddings(path string) (*Matrix, error) {
	// shape returns a named tensor's (rows, cols) if it is present and
	// two-dimensional; read returns its values, rows one after another.
	var shape func(name string) (rows, cols int, present, matrix bool)
	var read func(name string) ([]float32, error)
	switch strings.ToLower(filepath.Ext(path)) {
	case ".safetensors":
		f, err := safetensors.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		shape = func(name string) (int, int, bool, bool) {
			in, ok := f.Info(name)
			if !ok || len(in.Shape) != 2 {
				return 0, 0, ok, false
			}
			return in.Shape[0], in.Shape[1], true, in.Shape[0] > 0 && in.Shape[1] > 0
		}
		read = func(name string) ([]float32, error) { v, _, err := f.Float32(name); return v, err }
	case ".gguf":
		f, err := gguf.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		shape = func(name string) (int, int, bool, bool) {
			t, ok := f.Tensor(name)
			if !ok || len(t.Dims) != 2 {
				return 0, 0, ok, false
			}
			// ggml order: Dims[0] (the width) varies fastest.
			return int(t.Dims[1]), int(t.Dims[0]), true, t.Dims[0] > 0 && t.Dims[1] > 0
		}
		read = func(name string) ([]float32, error) { v, _, err := f.Float32(name); return v, err }
	default:
		return nil, fmt.Errorf("calib: %s: not a checkpoint (want a .safetensors or .gguf file)", path)
	}
	for _, name := range EmbeddingTensorNames {
		rows, cols, present, matrix := shape(name)
		if !present {
			continue
		}
		if !matrix {
			return nil, fmt.Errorf("calib: %s: tensor %q is not a (vocabulary, width) matrix", path, name)
		}
		data, err := read(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return &Matrix{Name: name, Rows: rows, Cols: cols, Data: data}, nil
	}
	return nil, fmt.Errorf("calib: %s: no token-embedding tensor (looked for %s)", path, strings.Join(EmbeddingTensorNames, ", "))
}

// LlamaEmbeddings is the token embedding of a llama2.c model as a Matrix.
func LlamaEmbeddings(m *llama2c.Model) *Matrix {
	return &Matrix{Name: "token_embedding_table", Rows: m.VocabSize, Cols: m.Dim, Data: m.TokenEmbedding}
}

// MatrixRows splits the rows of x (tokens) into calibration rows, whose
// coordinates are offered to r, and held-out rows, offered to h, so that
// no token's row straddles the two parts.
func MatrixRows(x *Matrix, frac float64, seed uint64, r, h *Reservoir) error {
	ids := make([]int, x.Rows)
	for i := range ids {
		ids[i] = i
	}
	tr, ho, err := Split(ids, frac, seed)
	if err != nil {
		return err
	}
	for _, part := range []struct {
		res *Reservoir
		ids []int
	}{{r, tr}, {h, ho}} {
		for _, id := range part.ids {
			for _, v := range x.Row(id) {
				part.res.Add(float64(v))
			}
		}
	}
	return nil
}
