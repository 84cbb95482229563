package calib

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/format/gguf"
	"github.com/krelu/krelu/format/safetensors"
)

func writeFile(t *testing.T, name string, write func(*bytes.Buffer) error) string {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A 3-token, 2-wide embedding comes back with rows = tokens in both
// formats (GGUF stores it as ggml dims [2, 3]).
func TestCheckpointEmbeddings(t *testing.T) {
	data := []float32{1, 2, 3, 4, 5, 6}
	st := writeFile(t, "m.safetensors", func(b *bytes.Buffer) error {
		return safetensors.WriteF32(b, []safetensors.Tensor{{Name: "transformer.wte.weight", Shape: []int{3, 2}, Data: data}})
	})
	gg := writeFile(t, "m.gguf", func(b *bytes.Buffer) error {
		return gguf.WriteF32(b, "gpt2", []gguf.Tensor{{Name: "token_embd.weight", Dims: []uint64{2, 3}, Data: data}})
	})
	for _, p := range []string{st, gg} {
		x, err := CheckpointEmbeddings(p)
		if err != nil {
			t.Fatal(err)
		}
		if x.Rows != 3 || x.Cols != 2 || x.Row(2)[0] != 5 || x.Row(2)[1] != 6 {
			t.Errorf("%s: %d×%d %v", filepath.Base(p), x.Rows, x.Cols, x.Data)
		}
	}
	noEmb := writeFile(t, "n.safetensors", func(b *bytes.Buffer) error {
		return safetensors.WriteF32(b, []safetensors.Tensor{{Name: "lm_head.weight", Shape: []int{3, 2}, Data: data}})
	})
	flat := writeFile(t, "f.gguf", func(b *bytes.Buffer) error {
		return gguf.WriteF32(b, "llama", []gguf.Tensor{{Name: "token_embd.weight", Dims: []uint64{6}, Data: data}})
	})
	for _, c := range []struct{ path, want string }{
		{noEmb, "no token-embedding tensor"},
		{flat, "not a (vocabulary, width) matrix"},
		{filepath.Join(t.TempDir(), "missing.gguf"), "no such file"},
		{"model.bin", "not a checkpoint"},
	} {
		if _, err := CheckpointEmbeddings(c.path); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", filepath.Base(c.path), err, c.want)
		}
	}
}
