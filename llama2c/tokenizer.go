package llama2c

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// Special token ids of llama2.c's SentencePiece vocabularies.
const (
	UNK = 0
	BOS = 1
	EOS = 2
)

// maxPieceLen bounds one stored piece; real vocabularies stay below 64.
const maxPieceLen = 1 << 10

// Tokenizer is a llama2.c SentencePiece-BPE vocabulary.
type Tokenizer struct {
	Pieces         []string  // piece text per id; "▁" is stored as a space
	Scores         []float32 // merge scores: higher merges first
	MaxTokenLength int
	lookup         map[string]int
	byteBase       int // id of <0x00>, or -1 when the vocabulary has no byte fallback
}

// ReadTokenizerFile reads a tokenizer.bin with vocabSize entries.
func ReadTokenizerFile(path string, vocabSize int) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llama2c: %w", err)
	}
	t, err := ReadTokenizer(bytes.NewReader(b), vocabSize)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ReadTokenizer reads a tokenizer with vocabSize entries from r. The file
// does not store its size, so vocabSize comes from the model header; a file
// with more or fewer entries is an error.
func ReadTokenizer(r io.Reader, vocabSize int) (*Tokenizer, error) {
	if vocabSize <= 0 || vocabSize > maxVocab {
		return nil, fmt.Errorf("llama2c: tokenizer vocabulary size %d out of range [1, %d]", vocabSize, maxVocab)
	}
	var maxLen uint32
	if err := binary.Read(r, binary.LittleEndian, &maxLen); err != nil {
		return nil, fmt.Errorf("llama2c: tokenizer header: %w", truncated(err))
	}
	if maxLen == 0 || maxLen > maxPieceLen {
		return nil, fmt.Errorf("llama2c: tokenizer max_token_length=%d out of range [1, %d]", maxLen, maxPieceLen)
	}
	t := &Tokenizer{
		Pieces:         make([]string, vocabSize),
		Scores:         make([]float32, vocabSize),
		MaxTokenLength: int(maxLen),
		lookup:         make(map[string]int, vocabSize),
	}
	var rec struct {
		Score float32
		Len   uint32
	}
	for i := range vocabSize {
		if err := binary.Read(r, binary.LittleEndian, &rec); err != nil {
			return nil, fmt.Errorf("llama2c: tokenizer entry %d of %d: %w", i, vocabSize, truncated(err))
		}
		if math.IsNaN(float64(rec.Score)) || math.IsInf(float64(rec.Score), 0) {
			return nil, fmt.Errorf("llama2c: tokenizer entry %d: score is %v", i, rec.Score)
		}
		if rec.Len > maxLen {
			return nil, fmt.Errorf("llama2c: tokenizer entry %d: length %d exceeds max_token_length %d", i, rec.Len, maxLen)
		}
		buf := make([]byte, rec.Len)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("llama2c: tokenizer entry %d: piece: %w", i, truncated(err))
		}
		t.Pieces[i], t.Scores[i] = string(buf), rec.Score
		// SentencePiece vocabularies are unique; if not, the first id wins,
		// as with llama2.c's sorted lookup (unspecified there).
		if _, dup := t.lookup[t.Pieces[i]]; !dup {
			t.lookup[t.Pieces[i]] = i
		}
	}
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return nil, fmt.Errorf("llama2c: tokenizer has data after %d entries (vocabulary size mismatch?)", vocabSize)
	}
	t.byteBase = -1
	if id, ok := t.lookup["<0x00>"]; ok && id+256 <= vocabSize && t.Pieces[id+255] == "<0xFF>" {
		t.byteBase = id
	}
	return t, nil
}

// VocabSize is the number of pieces.
func (t *Tokenizer) VocabSize() int { return len(t.Pieces) }

// Lookup returns the id of piece and whether it exists.
func (t *Tokenizer) Lookup(piece string) (int, bool) {
	id, ok := t.lookup[piece]
	return id, ok
}

// Encode tokenizes text as llama2.c's encode does: optional BOS, a dummy
// prefix space when text is non-empty, one token per UTF-8 code point (or
// one byte-fallback token per byte when the code point is not a piece),
// then repeated merging of the adjacent pair whose concatenation is a piece
// of highest score (the leftmost on ties), and an optional EOS.
func (t *Tokenizer) Encode(text string, bos, eos bool) ([]int, error) {
	var toks []int
	if bos {
		toks = append(toks, BOS)
	}
	start := len(toks)
	if text != "" {
		id, ok := t.lookup[" "]
		if !ok {
			return nil, errors.New("llama2c: vocabulary has no space piece for the dummy prefix")
		}
		toks = append(toks, id)
	}
	for i := 0; i < len(text); {
		// Collect one code point: a byte and at most three continuation bytes,
		// exactly llama2.c's grouping (which also covers invalid UTF-8).
		j := i + 1
		for j < len(text) && j-i < 4 && text[j]&0xC0 == 0x80 {
			j++
		}
		if id, ok := t.lookup[text[i:j]]; ok {
			toks = append(toks, id)
		} else {
			if t.byteBase < 0 {
				return nil, fmt.Errorf("llama2c: %q is not in the vocabulary and there is no byte fallback", text[i:j])
			}
			for k := i; k < j; k++ {
				toks = append(toks, t.byteBase+int(text[k]))
			}
		}
		i = j
	}
	seq := toks[start:]
	for {
		best, bestID := -1, -1
		bestScore := float32(math.Inf(-1))
		for i := 0; i+1 < len(seq); i++ {
			id, ok := t.lookup[t.Pieces[seq[i]]+t.Pieces[seq[i+1]]]
			if ok && t.Scores[id] > bestScore {
				best, bestID, bestScore = i, id, t.Scores[id]
			}
		}
		if best < 0 {
			break
		}
		seq[best] = bestID
		seq = append(seq[:best+1], seq[best+2:]...)
	}
	toks = toks[:start+len(seq)]
	if eos {
		toks = append(toks, EOS)
	}
	return toks, nil
}

// Decode returns the text of token following prev, as llama2.c's decode:
// the leading space of the first piece after BOS is dropped and
// byte-fallback pieces become their raw byte.
func (t *Tokenizer) Decode(prev, token int) (string, error) {
	if token < 0 || token >= len(t.Pieces) {
		return "", fmt.Errorf("llama2c: token %d out of range [0, %d)", token, len(t.Pieces))
	}
	p := t.Pieces[token]
	if prev == BOS && strings.HasPrefix(p, " ") {
		p = p[1:]
	}
	if b, ok := byteToken(p); ok {
		return string([]byte{b}), nil
	}
	return p, nil
}

// DecodeAll concatenates the decoded pieces of toks, skipping BOS and EOS.
func (t *Tokenizer) DecodeAll(toks []int) (string, error) {
	var sb strings.Builder
	prev := BOS
	for _, tok := range toks {
		if tok == BOS || tok == EOS {
			prev = tok
			continue
		}
		s, err := t.Decode(prev, tok)
		if err != nil {
			return "", err
		}
		sb.WriteString(s)
		prev = tok
	}
	return sb.String(), nil
}

// byteToken parses a "<0xXX>" byte-fallback piece.
func byteToken(p string) (byte, bool) {
	if len(p) != 6 || !strings.HasPrefix(p, "<0x") || p[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(p[3:5], 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}
