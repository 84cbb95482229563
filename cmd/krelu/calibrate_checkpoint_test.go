package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/format/gguf"
	"github.com/krelu/krelu/format/safetensors"
	"github.com/krelu/krelu/llama2c"
)

// stories260K's token embedding written as a Hugging Face-style
// safetensors file and as a llama.cpp-style GGUF file must calibrate to
// exactly the values `--text matrix` gives from the llama2.c checkpoint.
func TestCalibrateCheckpointMatchesLlama2c(t *testing.T) {
	m, _, err := llama2c.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var st, gg bytes.Buffer
	if err := safetensors.WriteF32(&st, []safetensors.Tensor{
		{Name: "model.norm.weight", Shape: []int{m.Dim}, Data: m.RMSFinal},
		{Name: "model.embed_tokens.weight", Shape: []int{m.VocabSize, m.Dim}, Data: m.TokenEmbedding},
	}); err != nil {
		t.Fatal(err)
	}
	if err := gguf.WriteF32(&gg, "llama", []gguf.Tensor{
		{Name: "token_embd.weight", Dims: []uint64{uint64(m.Dim), uint64(m.VocabSize)}, Data: m.TokenEmbedding},
	}); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"stories260K.safetensors": st.Bytes(), "stories260K.gguf": gg.Bytes()}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := krelu(append([]string{"calibrate"}, args...), &out, &errb); code != 0 {
			t.Fatalf("krelu calibrate %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	common := []string{"--source", "embeddings", "--text", "matrix", "--holdout-frac", "0.25", "--max", "0"}
	run(append(common, "-o", filepath.Join(dir, "ref"))...)
	for name := range files {
		pre := filepath.Join(dir, strings.ReplaceAll(name, ".", "_"))
		run(append(common, "--model", filepath.Join(dir, name), "-o", pre)...)
		for _, part := range []string{".train.npy", ".holdout.npy"} {
			want, _ := os.ReadFile(filepath.Join(dir, "ref"+part))
			got, err := os.ReadFile(pre + part)
			if err != nil || len(want) == 0 || !bytes.Equal(got, want) {
				t.Errorf("%s%s differs from the llama2.c extraction (%d vs %d bytes, %v)", name, part, len(got), len(want), err)
			}
		}
	}
	// Anything but the embedding matrix needs a forward pass krelu does not run.
	var out, errb bytes.Buffer
	if code := krelu([]string{"calibrate", "--model", filepath.Join(dir, "stories260K.gguf"), "--source", "ffn", "-o", filepath.Join(dir, "x")}, &out, &errb); code == 0 || !strings.Contains(errb.String(), "--source embeddings --text matrix") {
		t.Errorf("ffn from a GGUF checkpoint: exit %d, stderr %q", code, errb.String())
	}
}
