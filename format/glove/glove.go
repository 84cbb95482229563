package glove

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// MaxDim bounds the vector width accepted from a header or first line.
const MaxDim = 1 << 14

// Options select which vectors to keep.
type Options struct {
	// MaxWords keeps only the first MaxWords words (by file order, which for
	// GloVe and wink is frequency order); 0 keeps all.
	MaxWords int
	// Vocab, when non-nil, keeps only these words.
	Vocab map[string]bool
}

func (o Options) want(word string, have int) bool {
	if o.MaxWords > 0 && have >= o.MaxWords {
		return false
	}
	return o.Vocab == nil || o.Vocab[word]
}

// Vectors is a set of word vectors of one dimension.
type Vectors struct {
	Words []string
	Dim   int
	Data  []float64 // len(Words) × Dim, row-major; parsed in float64 as written
	index map[string]int
}

func (v *Vectors) add(word string, vec []float64) error {
	if v.index == nil {
		v.index = map[string]int{}
	}
	if _, dup := v.index[word]; dup {
		return fmt.Errorf("glove: duplicate word %q", word)
	}
	v.index[word] = len(v.Words)
	v.Words = append(v.Words, word)
	v.Data = append(v.Data, vec...)
	return nil
}

// Vector returns the vector of word.
func (v *Vectors) Vector(word string) ([]float64, bool) {
	i, ok := v.index[word]
	if !ok {
		return nil, false
	}
	return v.Data[i*v.Dim : (i+1)*v.Dim], true
}

// Values returns every coordinate of every kept vector as float64: the
// values an activation applied to the embeddings would see.
func (v *Vectors) Values() []float64 {
	return slices.Clone(v.Data)
}

// Load reads path: wink JSON when it ends in .json, text otherwise.
func Load(path string, opt Options) (*Vectors, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("glove: %w", err)
	}
	defer f.Close()
	var v *Vectors
	if strings.HasSuffix(path, ".json") {
		v, err = ReadWink(bufio.NewReaderSize(f, 1<<20), opt)
	} else {
		v, err = ReadText(f, opt)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// ReadText reads GloVe or word2vec text vectors.
func ReadText(r io.Reader, opt Options) (*Vectors, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	v := &Vectors{}
	line, declared := 0, -1
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if line == 1 && len(fields) == 2 {
			n, err1 := strconv.Atoi(fields[0])
			d, err2 := strconv.Atoi(fields[1])
			if err1 == nil && err2 == nil {
				if n < 0 || d <= 0 || d > MaxDim {
					return nil, fmt.Errorf("glove: line 1: word2vec header %d words × %d dims out of range", n, d)
				}
				declared, v.Dim = n, d
				continue
			}
		}
		if v.Dim == 0 {
			if len(fields)-1 > MaxDim || len(fields) < 2 {
				return nil, fmt.Errorf("glove: line %d: %d fields, want a word and 1..%d numbers", line, len(fields), MaxDim)
			}
			v.Dim = len(fields) - 1
		}
		if len(fields) != v.Dim+1 {
			return nil, fmt.Errorf("glove: line %d: %d numbers, want %d", line, len(fields)-1, v.Dim)
		}
		if !opt.want(fields[0], len(v.Words)) {
			if opt.MaxWords > 0 && len(v.Words) >= opt.MaxWords {
				break
			}
			continue
		}
		vec := make([]float64, v.Dim)
		for i, s := range fields[1:] {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("glove: line %d: coordinate %d %q is not a finite number", line, i, s)
			}
			vec[i] = x
		}
		if err := v.add(fields[0], vec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("glove: line %d: %w", line+1, err)
	}
	if v.Dim == 0 {
		return nil, errors.New("glove: no vectors")
	}
	if declared >= 0 && opt.MaxWords == 0 && opt.Vocab == nil && len(v.Words) != declared {
		return nil, fmt.Errorf("glove: header declares %d words, file has %d", declared, len(v.Words))
	}
	return v, nil
}

// ReadWink reads the wink-embeddings JSON object from r as a token stream.
func ReadWink(r io.Reader, opt Options) (*Vectors, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '{', "top level"); err != nil {
		return nil, err
	}
	v := &Vectors{}
	var words []string
	wordPos := map[string][2]int{} // kept word → (rank among kept, index in "words")
	normIdx, wordIdx := -1, -1
	sawVectors, sawWords := false, false
	for dec.More() {
		key, err := stringToken(dec, "top-level key")
		if err != nil {
			return nil, err
		}
		switch key {
		case "dimensions", "l2NormIndex", "wordIndex":
			var n int
			if err := dec.Decode(&n); err != nil {
				return nil, fmt.Errorf("glove: %q: %w", key, err)
			}
			if n < 0 || n > MaxDim+2 {
				return nil, fmt.Errorf("glove: %q = %d out of range", key, n)
			}
			switch key {
			case "dimensions":
				if n == 0 {
					return nil, errors.New(`glove: "dimensions" is 0`)
				}
				v.Dim = n
			case "l2NormIndex":
				normIdx = n
			case "wordIndex":
				wordIdx = n
			}
		case "words":
			sawWords = true
			if words, err = readWinkWords(dec, opt, wordPos); err != nil {
				return nil, err
			}
		case "vectors":
			if v.Dim == 0 || !sawWords {
				return nil, errors.New(`glove: "vectors" before "dimensions" and "words"`)
			}
			if normIdx != v.Dim || wordIdx != v.Dim+1 {
				return nil, fmt.Errorf("glove: l2NormIndex %d and wordIndex %d, want %d and %d", normIdx, wordIdx, v.Dim, v.Dim+1)
			}
			sawVectors = true
			vecs, complete, err := readWinkVectors(dec, v.Dim, wordPos, len(words))
			if err != nil {
				return nil, err
			}
			// Keep the order of "words" (frequency order).
			for i, w := range words {
				if vecs[i] == nil {
					return nil, fmt.Errorf("glove: word %q has no vector", w)
				}
				if err := v.add(w, vecs[i]); err != nil {
					return nil, err
				}
			}
			if !complete {
				// Everything wanted is read; skip the (300 MB) remainder.
				return v, nil
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, fmt.Errorf("glove: %q: %w", key, err)
			}
		}
	}
	if !sawVectors {
		return nil, errors.New(`glove: no "vectors" object`)
	}
	if err := expectDelim(dec, '}', "end of object"); err != nil {
		return nil, err
	}
	return v, nil
}

// readWinkWords reads the "words" array, keeping the words opt wants in
// file (frequency) order and recording in wordPos each kept word's rank
// among the kept and its index in the array.
func readWinkWords(dec *json.Decoder, opt Options, wordPos map[string][2]int) ([]string, error) {
	if err := expectDelim(dec, '[', `"words"`); err != nil {
		return nil, err
	}
	var words []string
	for n := 0; dec.More(); n++ {
		w, err := stringToken(dec, "word")
		if err != nil {
			return nil, err
		}
		if opt.want(w, len(words)) {
			if _, dup := wordPos[w]; dup {
				return nil, fmt.Errorf("glove: word %q listed twice", w)
			}
			wordPos[w] = [2]int{len(words), n}
			words = append(words, w)
		}
	}
	if err := expectDelim(dec, ']', `end of "words"`); err != nil {
		return nil, err
	}
	return words, nil
}

// readWinkVectors reads the "vectors" object, keeping entries in wordPos.
// It returns as soon as all want vectors are found; complete reports
// whether the object was read to its end.
func readWinkVectors(dec *json.Decoder, dim int, wordPos map[string][2]int, want int) (out [][]float64, complete bool, err error) {
	if err := expectDelim(dec, '{', `"vectors"`); err != nil {
		return nil, false, err
	}
	out = make([][]float64, want)
	found := 0
	raw := make([]json.Number, 0, dim+2)
	for dec.More() && found < want {
		w, err := stringToken(dec, "vector key")
		if err != nil {
			return nil, false, err
		}
		wp, keep := wordPos[w]
		if !keep {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return nil, false, fmt.Errorf("glove: vector of %q: %w", w, err)
			}
			continue
		}
		raw = raw[:0]
		if err := dec.Decode(&raw); err != nil {
			return nil, false, fmt.Errorf("glove: vector of %q: %w", w, err)
		}
		if len(raw) != dim+2 {
			return nil, false, fmt.Errorf("glove: vector of %q has %d numbers, want %d (%d dims, l2 norm, index)", w, len(raw), dim+2, dim)
		}
		vec := make([]float64, dim)
		var ss float64
		for i := range dim {
			x, err := raw[i].Float64()
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, false, fmt.Errorf("glove: vector of %q: coordinate %d %q is not a finite number", w, i, raw[i])
			}
			vec[i] = x
			ss += x * x
		}
		norm, err1 := raw[dim].Float64()
		idx, err2 := raw[dim+1].Int64()
		if err1 != nil || err2 != nil {
			return nil, false, fmt.Errorf("glove: vector of %q: bad norm %q or index %q", w, raw[dim], raw[dim+1])
		}
		if math.Abs(norm-math.Sqrt(ss)) > 1e-4*math.Max(1, norm) {
			return nil, false, fmt.Errorf("glove: vector of %q: stored l2 norm %v, computed %v (corrupt?)", w, norm, math.Sqrt(ss))
		}
		if out[wp[0]] != nil {
			return nil, false, fmt.Errorf("glove: duplicate vector for %q", w)
		}
		if idx != int64(wp[1]) {
			return nil, false, fmt.Errorf("glove: vector of %q: stored index %d, but it is word %d of \"words\"", w, idx, wp[1])
		}
		out[wp[0]] = vec
		found++
	}
	if found == want && dec.More() {
		return out, false, nil
	}
	if err := expectDelim(dec, '}', `end of "vectors"`); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

func expectDelim(dec *json.Decoder, want json.Delim, what string) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("glove: %s: %w", what, err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return fmt.Errorf("glove: %s: got %v, want %q", what, t, want)
	}
	return nil
}

func stringToken(dec *json.Decoder, what string) (string, error) {
	t, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("glove: %s: %w", what, err)
	}
	s, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("glove: %s: got %v, want a string", what, t)
	}
	return s, nil
}
