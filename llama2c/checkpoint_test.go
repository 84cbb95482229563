package llama2c

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/krelu/krelu/internal/shareddata"
)

func TestReadSharedFileEqualsEmbedded(t *testing.T) {
	p, err := shareddata.Path("llama2c", "stories260K.bin")
	if err != nil {
		t.Fatalf("real data missing: %v", err)
	}
	m, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := embeddedTok(t)
	want := Config{Dim: 64, HiddenDim: 172, NLayers: 5, NHeads: 8, NKVHeads: 4, VocabSize: 512, SeqLen: 512, SharedClassifier: true}
	if m.Config != want || e.Config != want {
		t.Fatalf("config %+v / embedded %+v, want %+v", m.Config, e.Config, want)
	}
	if m.HeadSize() != 8 || m.KVDim() != 32 || m.FileSize() != 1056540 {
		t.Fatalf("head size %d, kv dim %d, file size %d", m.HeadSize(), m.KVDim(), m.FileSize())
	}
	if &m.Classifier[0] != &m.TokenEmbedding[0] {
		t.Error("shared classifier does not alias the token embedding")
	}
	tp, err := shareddata.Path("llama2c", "tok512.bin")
	if err != nil {
		t.Fatalf("real data missing: %v", err)
	}
	tok, err := ReadTokenizerFile(tp, m.VocabSize)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Pieces[BOS] != "\n<s>\n" || tok.Pieces[3] != "<0x00>" || tok.Pieces[259] != " t" || tok.MaxTokenLength != 7 {
		t.Errorf("unexpected pieces %q %q %q, max len %d", tok.Pieces[BOS], tok.Pieces[3], tok.Pieces[259], tok.MaxTokenLength)
	}
	// Read (streaming) agrees with Parse.
	b := append([]byte(nil), embeddedModel...)
	s, err := Read(iotest.HalfReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatal(err)
	}
	if s.Layers[4].W3[171*64+63] != m.Layers[4].W3[171*64+63] || s.FreqCisImag[511*4+3] != m.FreqCisImag[511*4+3] {
		t.Error("Read and ReadFile disagree")
	}
}

// The stored RoPE tables are cos/sin of pos·10000^(−2j/head_size).
func TestRoPETables(t *testing.T) {
	m, _ := embeddedTok(t)
	half := m.HeadSize() / 2
	for pos := range m.SeqLen {
		for j := range half {
			th := float64(pos) * math.Pow(10000, -float64(2*j)/float64(m.HeadSize()))
			// float32 angles lose ~1e-4 at pos 511.
			if math.Abs(float64(m.FreqCisReal[pos*half+j])-math.Cos(th)) > 1e-3 ||
				math.Abs(float64(m.FreqCisImag[pos*half+j])-math.Sin(th)) > 1e-3 {
				t.Fatalf("pos %d j %d: table (%v, %v), want (%v, %v)", pos, j,
					m.FreqCisReal[pos*half+j], m.FreqCisImag[pos*half+j], math.Cos(th), math.Sin(th))
			}
		}
	}
}

// tiny builds a valid small checkpoint in memory.
func tiny(vocab int32) []byte {
	hdr := []int32{4, 6, 1, 2, 1, vocab, 3}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, hdr)
	c, _ := parseHeader(b.Bytes())
	for i := range c.numFloats() {
		binary.Write(&b, binary.LittleEndian, float32(math.Sin(float64(i))))
	}
	return b.Bytes()
}

func TestParseErrors(t *testing.T) {
	for _, v := range []int32{5, -5} {
		m, err := Parse(tiny(v))
		if err != nil {
			t.Fatalf("valid tiny checkpoint (vocab %d): %v", v, err)
		}
		if m.SharedClassifier != (v > 0) {
			t.Errorf("vocab %d: shared = %v", v, m.SharedClassifier)
		}
		if _, err := m.NewState().Forward(4, 2); err != nil {
			t.Fatal(err)
		}
	}
	good := tiny(5)
	set := func(i int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[4*i:], v)
		return b
	}
	neg := func(v int32) uint32 { return uint32(v) }
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":           {nil, "shorter than the 28-byte header"},
		"truncated":       {good[:len(good)-3], "truncated"},
		"trailing":        {append(append([]byte(nil), good...), 0, 0, 0, 0), "size mismatch"},
		"zero dim":        {set(0, 0), "dim=0"},
		"negative layers": {set(2, neg(-1)), "n_layers=-1"},
		"absurd hidden":   {set(1, 1<<30), "hidden_dim=1073741824"},
		"absurd seq":      {set(6, 1<<30), "seq_len"},
		"heads":           {set(3, 3), "not a multiple of n_heads"},
		"kv heads":        {set(4, 3), "n_kv_heads=3"},
		"odd head size":   {set(3, 4), "odd"},
		"magic":           {set(0, 0x616b3432), "ak42"},
		"nan weight":      {set(9, 0x7fc00000), "is NaN"},
		"inf weight":      {set(9, 0x7f800000), "is +Inf"},
		"too big":         {append(set(0, 1<<14), make([]byte, 100)...), "truncated"},
	} {
		_, err := Parse(tc.b)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
		if len(tc.b) > 0 {
			_, rerr := Read(bytes.NewReader(tc.b))
			if rerr == nil && tc.want != "size mismatch" {
				t.Errorf("%s: Read accepted what Parse rejects", name)
			}
		}
	}
	if _, err := Read(bytes.NewReader(append(append([]byte(nil), good...), 1))); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Errorf("Read with trailing byte: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(tiny(5))
	f.Add(tiny(-5))
	f.Add(embeddedModel[:64])
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if _, rerr := Read(bytes.NewReader(b)); (err == nil) != (rerr == nil) {
			t.Fatalf("Parse error %v, Read error %v", err, rerr)
		}
		if err != nil {
			return
		}
		// A model that loads must run, or report that huge (finite) weights
		// overflowed the residual stream.
		s := m.NewState()
		for pos := range min(m.SeqLen, 3) {
			if _, err := s.Forward(pos%m.VocabSize, pos); err != nil && !errors.Is(err, ErrDiverged) {
				t.Fatal(err)
			}
		}
	})
}
