package llama2c

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"
)

// The stories260K checkpoint and its tokenizer, MIT licence (model/LICENSE).
var (
	//go:embed model/stories260K.bin
	embeddedModel []byte
	//go:embed model/tok512.bin
	embeddedTokenizer []byte
)

var embedded = sync.OnceValues(func() (*Model, error) {
	m, err := Parse(embeddedModel)
	if err != nil {
		return nil, fmt.Errorf("embedded stories260K: %w", err)
	}
	return m, nil
})

// Embedded returns Karpathy's stories260K model (dim 64, 5 layers, 8 query
// and 4 key/value heads, SwiGLU FFN of width 172, vocabulary 512) and its
// tok512 tokenizer, compiled into the binary. The model is parsed once and
// shared: treat it as read-only. The tokenizer is a fresh copy.
func Embedded() (*Model, *Tokenizer, error) {
	m, err := embedded()
	if err != nil {
		return nil, nil, err
	}
	t, err := ReadTokenizer(bytes.NewReader(embeddedTokenizer), m.VocabSize)
	if err != nil {
		return nil, nil, fmt.Errorf("embedded tok512: %w", err)
	}
	return m, t, nil
}
