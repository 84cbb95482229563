package transformer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Example is one labelled SST-2 sentence.
type Example struct {
	Sentence string
	Label    int // 0 negative, 1 positive
}

// ErrEmptySentence is returned for a sentence with no tokens.
var ErrEmptySentence = errors.New("sst2: empty sentence")

// ReadSST2 reads a GLUE SST-2 TSV file (header "sentence\tlabel", one
// example per line). Malformed rows, bad labels and empty sentences are
// errors naming the line.
func ReadSST2(r io.Reader) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var out []Example
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 1 {
			if text != "sentence\tlabel" {
				return nil, fmt.Errorf("sst2: line 1: header %q, want %q", text, "sentence\tlabel")
			}
			continue
		}
		if text == "" {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != 2 {
			return nil, fmt.Errorf("sst2: line %d: %d tab-separated fields, want 2", line, len(f))
		}
		var label int
		switch strings.TrimSpace(f[1]) {
		case "0":
			label = 0
		case "1":
			label = 1
		default:
			return nil, fmt.Errorf("sst2: line %d: label %q, want 0 or 1", line, f[1])
		}
		if len(Tokenize(f[0])) == 0 {
			return nil, fmt.Errorf("sst2: line %d: %w", line, ErrEmptySentence)
		}
		out = append(out, Example{Sentence: f[0], Label: label})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sst2: line %d: %w", line+1, err)
	}
	if line == 0 {
		return nil, errors.New("sst2: empty file (no header)")
	}
	return out, nil
}

// ReadSST2File reads the SST-2 TSV file at path.
func ReadSST2File(path string) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sst2: %w", err)
	}
	defer f.Close()
	ex, err := ReadSST2(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ex, nil
}

// Tokenize lower-cases s and splits it on white space. GLUE's SST-2 is
// already tokenised PTB-style ("it 's", "does n't"), which matches the
// GloVe 6B vocabulary, so no further splitting is done.
func Tokenize(s string) []string {
	return strings.Fields(strings.ToLower(s))
}

// UNK is the token id of unknown words; its embedding is the zero vector
// at initialisation.
const UNK = 0

// UnkToken is the vocabulary entry for UNK.
const UnkToken = "<unk>"

// Vocab maps words to token ids. Id 0 is UNK.
type Vocab struct {
	Words []string
	index map[string]int
}

// NewVocab returns a vocabulary of UNK followed by words (duplicates and
// UnkToken are skipped).
func NewVocab(words []string) *Vocab {
	v := &Vocab{Words: []string{UnkToken}, index: map[string]int{UnkToken: UNK}}
	for _, w := range words {
		if _, ok := v.index[w]; ok {
			continue
		}
		v.index[w] = len(v.Words)
		v.Words = append(v.Words, w)
	}
	return v
}

// Len returns the number of entries, UNK included.
func (v *Vocab) Len() int { return len(v.Words) }

// ID returns the id of w and whether it is known.
func (v *Vocab) ID(w string) (int, bool) {
	id, ok := v.index[w]
	return id, ok
}

// EncodeOptions control Encode.
type EncodeOptions struct {
	// MaxLen is the largest number of tokens; 0 means no limit.
	MaxLen int
	// Truncate keeps the first MaxLen tokens of a longer sentence instead
	// of returning ErrTooLong.
	Truncate bool
}

// ErrTooLong is returned for a sentence longer than MaxLen without Truncate.
var ErrTooLong = errors.New("sst2: sentence longer than the maximum length")

// Encoded is a tokenised sentence.
type Encoded struct {
	IDs       []int
	Unknown   int // tokens mapped to UNK
	Truncated int // tokens dropped by truncation
}

// Encode tokenises s and maps it to ids, counting unknown words.
func (v *Vocab) Encode(s string, opt EncodeOptions) (Encoded, error) {
	toks := Tokenize(s)
	if len(toks) == 0 {
		return Encoded{}, ErrEmptySentence
	}
	var e Encoded
	if opt.MaxLen > 0 && len(toks) > opt.MaxLen {
		if !opt.Truncate {
			return Encoded{}, fmt.Errorf("%w: %d tokens > %d (truncate to allow)", ErrTooLong, len(toks), opt.MaxLen)
		}
		e.Truncated = len(toks) - opt.MaxLen
		toks = toks[:opt.MaxLen]
	}
	e.IDs = make([]int, len(toks))
	for i, w := range toks {
		id, ok := v.index[w]
		if !ok {
			e.Unknown++
			id = UNK
		}
		e.IDs[i] = id
	}
	return e, nil
}

// Dataset is an encoded example set.
type Dataset struct {
	IDs       [][]int
	Labels    []int
	Tokens    int // total tokens
	Unknown   int // tokens mapped to UNK
	Truncated int // sentences truncated
}

// EncodeAll encodes every example; the first failure names its index.
func (v *Vocab) EncodeAll(ex []Example, opt EncodeOptions) (*Dataset, error) {
	d := &Dataset{}
	for i, e := range ex {
		enc, err := v.Encode(e.Sentence, opt)
		if err != nil {
			return nil, fmt.Errorf("example %d: %w", i, err)
		}
		d.IDs = append(d.IDs, enc.IDs)
		d.Labels = append(d.Labels, e.Label)
		d.Tokens += len(enc.IDs)
		d.Unknown += enc.Unknown
		if enc.Truncated > 0 {
			d.Truncated++
		}
	}
	return d, nil
}

// Words returns the distinct tokens of the examples in first-seen order.
func Words(ex ...[]Example) []string {
	seen := map[string]bool{}
	var out []string
	for _, set := range ex {
		for _, e := range set {
			for _, w := range Tokenize(e.Sentence) {
				if !seen[w] {
					seen[w] = true
					out = append(out, w)
				}
			}
		}
	}
	return out
}
