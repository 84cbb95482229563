package llama2c

import (
	"bytes"
	"encoding/binary"
	"os"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func embeddedTok(t testing.TB) (*Model, *Tokenizer) {
	t.Helper()
	m, tok, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return m, tok
}

// The model was trained on SentencePiece's own encoding, so greedy decoding
// emits canonical tokenizations: encoding the generated text must give back
// the generated tokens.
func TestEncodeMatchesGreedyTokens(t *testing.T) {
	m, tok := embeddedTok(t)
	text, toks, err := Generate(m, tok, GenerateOptions{Steps: 24})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.Encode(text, true, false)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, toks) {
		t.Fatalf("Encode(%q)\n got %v\nwant %v", text, got, toks)
	}
}

func TestEncodeKnown(t *testing.T) {
	_, tok := embeddedTok(t)
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"a", []string{" a"}},
		// "\n" is not a piece: byte fallback to <0x0A>.
		{"hi\nyo", nil},
		// U+4E2D is three bytes, none a piece.
		{"中", []string{" ", "<0xE4>", "<0xB8>", "<0xAD>"}},
	} {
		ids, err := tok.Encode(tc.text, false, false)
		if err != nil {
			t.Fatal(err)
		}
		var pieces []string
		for _, id := range ids {
			pieces = append(pieces, tok.Pieces[id])
		}
		if tc.want != nil && !slices.Equal(pieces, tc.want) {
			t.Errorf("Encode(%q) = %q, want %q", tc.text, pieces, tc.want)
		}
		if tc.text == "hi\nyo" && !slices.Contains(pieces, "<0x0A>") {
			t.Errorf("Encode(%q) = %q: no byte fallback for newline", tc.text, pieces)
		}
	}
	ids, _ := tok.Encode("x", true, true)
	if ids[0] != BOS || ids[len(ids)-1] != EOS {
		t.Errorf("Encode with bos, eos = %v", ids)
	}
}

func TestTokenizerRoundTrip(t *testing.T) {
	_, tok := embeddedTok(t)
	for _, s := range []string{
		knownSampleFull,
		"it 's a charming and often affecting journey . ",
		"  leading spaces, tabs\tand \x00 bytes \xff\xfe invalid UTF-8, emoji 🙂, café",
		"<0x41> <unk> <s> \n</s>\n",
	} {
		roundTrip(t, tok, s)
	}
}

func roundTrip(t *testing.T, tok *Tokenizer, s string) {
	t.Helper()
	for _, bos := range []bool{false, true} {
		ids, err := tok.Encode(s, bos, false)
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		got, err := tok.DecodeAll(ids)
		if err != nil {
			t.Fatal(err)
		}
		if got != s {
			t.Fatalf("round trip (bos=%v)\n got %q\nwant %q", bos, got, s)
		}
	}
}

func FuzzTokenizerRoundTrip(f *testing.F) {
	_, tok := embeddedTok(f)
	for _, s := range []string{"", "Once upon a time", "\xff", "a\u00a0b", "<0x0A>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 512 {
			return
		}
		roundTrip(t, tok, s)
		ids, _ := tok.Encode(s, false, false)
		if utf8.ValidString(s) && len(ids) > len(s)+1 {
			t.Fatalf("%d tokens for %d bytes", len(ids), len(s))
		}
	})
}

// writeTok serializes a tokenizer in llama2.c's layout.
func writeTok(maxLen uint32, pieces []string, scores []float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, maxLen)
	for i, p := range pieces {
		binary.Write(&b, binary.LittleEndian, scores[i])
		binary.Write(&b, binary.LittleEndian, uint32(len(p)))
		b.WriteString(p)
	}
	return b.Bytes()
}

func TestReadTokenizerErrors(t *testing.T) {
	good := writeTok(3, []string{"<unk>"[:3], "a", "b", "ab"}, []float32{0, 0, 0, -1})
	if _, err := ReadTokenizer(bytes.NewReader(good), 4); err != nil {
		t.Fatalf("valid tokenizer: %v", err)
	}
	nan := writeTok(3, []string{"a"}, []float32{float32(0)})
	binary.LittleEndian.PutUint32(nan[4:], 0x7fc00000)
	for name, tc := range map[string]struct {
		b     []byte
		n     int
		error string
	}{
		"empty":          {nil, 4, "tokenizer header"},
		"truncated":      {good[:len(good)-1], 4, "entry 3"},
		"too few":        {good, 5, "entry 4"},
		"too many":       {good, 3, "data after 3 entries"},
		"zero max len":   {writeTok(0, []string{"a"}, []float32{0}), 1, "max_token_length=0"},
		"absurd max len": {writeTok(1<<30, []string{"a"}, []float32{0}), 1, "max_token_length"},
		"long piece":     {writeTok(1, []string{"abc"}, []float32{0}), 1, "exceeds max_token_length"},
		"nan score":      {nan, 1, "score is NaN"},
		"bad vocab":      {good, 0, "vocabulary size 0"},
	} {
		_, err := ReadTokenizer(bytes.NewReader(tc.b), tc.n)
		if err == nil || !strings.Contains(err.Error(), tc.error) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.error)
		}
	}
}

func FuzzReadTokenizer(f *testing.F) {
	f.Add(writeTok(3, []string{"a", "b", "ab"}, []float32{0, 0, -1}), 3)
	b, err := os.ReadFile("model/tok512.bin")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:200], 512)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n > 4096 {
			return
		}
		tok, err := ReadTokenizer(bytes.NewReader(b), n)
		if err != nil {
			return
		}
		// A tokenizer that loads must encode and decode without panicking.
		ids, err := tok.Encode("ab\xff", true, true)
		if err == nil {
			tok.DecodeAll(ids)
		}
	})
}
