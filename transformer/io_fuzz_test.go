package transformer

import (
	"bytes"
	"testing"
)

// FuzzLoad: any bytes give a model or an error, never a panic or an
// allocation the file does not pay for.
func FuzzLoad(f *testing.F) {
	cfg := Config{Vocab: 3, EmbDim: 4, Dim: 4, Heads: 2, Hidden: 4, Layers: 1, MaxLen: 4, Classes: 2}
	m, err := New(cfg, ReLU, nil)
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	if err := (&Saved{Model: m, Vocab: NewVocab([]string{"good", "bad"}), Info: map[string]string{"seed": "1"}}).Save(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:b.Len()/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		if _, _, err := s.Model.Predict([]int{0}); err != nil {
			t.Logf("predict: %v", err)
		}
	})
}
