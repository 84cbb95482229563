package transformer

import (
	"bytes"
	"strings"
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

// FuzzReadGloVe: any document gives vectors of the right length or an
// error.
func FuzzReadGloVe(f *testing.F) {
	f.Add(`{"precision":8,"words":["good"],"vectors":{"good":` + vec100() + `},"unkVector":[0]}`)
	f.Add(`{"vectors":{"good":[1,2]}}`)
	f.Add(`{"vectors":{"good":` + vec100() + `,"good":` + vec100() + `}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		m, err := ReadGloVe(strings.NewReader(doc), map[string]bool{"good": true, "bad": true})
		if err != nil {
			return
		}
		for w, v := range m {
			if len(v) != GloVeDim {
				t.Fatalf("%q: %d dimensions", w, len(v))
			}
		}
	})
}
