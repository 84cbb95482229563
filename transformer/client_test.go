package transformer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/approx"
)

// heFriendlySaved is a small HE-friendly model whose every parameter is
// random (biases and normalisation included), so that each weight is a
// value no other weight shares.
func heFriendlySaved(t testing.TB, vocab, embDim, dim, maxLen int) *Saved {
	t.Helper()
	words := make([]string, vocab-1)
	for i := range words {
		words[i] = "w" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	cfg := Config{Vocab: vocab, EmbDim: embDim, Dim: dim, Heads: 2, Hidden: dim, Layers: 1, MaxLen: maxLen, Classes: 2, HEFriendly: true, QuadShift: 4}
	m, err := New(cfg, PolyActivation("k2", approx.Poly{0.25, 0.5, 0.18}), rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, p := range m.Params() {
		for i := range p.W {
			p.W[i] = 0.3 * r.NormFloat64()
		}
	}
	return &Saved{Model: m, Vocab: NewVocab(words), Info: map[string]string{"seed": "1"}}
}

// TestClientTablesRoundTrip: the tables survive Save and LoadClientTables,
// their TokenRows equal the model's bit for bit, and LoadClientFile reads
// both the table file (no model) and the model file (tables and model).
func TestClientTablesRoundTrip(t *testing.T) {
	s := heFriendlySaved(t, 40, 6, 8, 10)
	c, err := s.ClientTables()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tp, mp := filepath.Join(dir, "client.gob"), filepath.Join(dir, "model.gob")
	if err := c.SaveFile(tp); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveFile(mp); err != nil {
		t.Fatal(err)
	}
	got, model, err := LoadClientFile(tp)
	if err != nil || model != nil {
		t.Fatalf("LoadClientFile(tables) = model %v, %v", model, err)
	}
	fromModel, model, err := LoadClientFile(mp)
	if err != nil || model == nil {
		t.Fatalf("LoadClientFile(model) = model %v, %v", model, err)
	}
	e, err := s.Model.Encoder()
	if err != nil {
		t.Fatal(err)
	}
	for _, c2 := range []*ClientTables{got, fromModel} {
		if c2.Task != TaskSST2 || c2.Dim != 8 || c2.Heads != 2 || c2.MaxTokens != 10 || c2.Layers != 1 || c2.Classes != 2 || c2.Vocab.Len() != 40 {
			t.Errorf("shape after loading: %+v", c2)
		}
		if c2.Encoder != e.Fingerprint() {
			t.Error("encoder fingerprint lost")
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		ids := make([]int, 1+r.IntN(10))
		for i := range ids {
			ids[i] = r.IntN(40)
		}
		want, err := s.Model.TokenRows(ids)
		if err != nil {
			t.Fatal(err)
		}
		for _, c2 := range []*ClientTables{got, fromModel} {
			rows, err := c2.TokenRows(ids)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				for j := range want[i] {
					if math.Float64bits(rows[i][j]) != math.Float64bits(want[i][j]) {
						t.Fatalf("ids %v row %d feature %d: table %v, model %v", ids, i, j, rows[i][j], want[i][j])
					}
				}
			}
		}
	}
	for _, ids := range [][]int{nil, make([]int, 11), {40}, {-1}} {
		if _, err := got.TokenRows(ids); err == nil {
			t.Errorf("TokenRows(%v) succeeded", ids)
		}
	}
	// A model whose weights differ in one value has another fingerprint.
	s.Model.Cls.W.W[0] += 1e-12
	e2, _ := s.Model.Encoder()
	if e2.Fingerprint() == e.Fingerprint() {
		t.Error("the fingerprint ignores a classifier weight")
	}
}

// gobFloat is the gob encoding of v: the byte-reversed IEEE-754 bits as an
// unsigned integer (a count byte, then the big-endian bytes without
// leading zeros).
func gobFloat(v float64) []byte {
	u := bits.ReverseBytes64(math.Float64bits(v))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], u)
	n := bits.LeadingZeros64(u) / 8
	return append([]byte{byte(-(8 - n))}, b[n:]...)
}

// TestClientTablesHoldNoLayerWeight: the table file contains none of the
// weights of the attention, normalisation, FFN or classifier (searched for
// as gob encodes them, in the raw bytes), not even the raw embedding E or
// the projection P (only E·P + b), and its size is that of the vocabulary
// and the two tables plus gob's framing.
func TestClientTablesHoldNoLayerWeight(t *testing.T) {
	const vocab, embDim, dim, maxLen = 300, 12, 8, 16
	s := heFriendlySaved(t, vocab, embDim, dim, maxLen)
	c, err := s.ClientTables()
	if err != nil {
		t.Fatal(err)
	}
	var file bytes.Buffer
	if err := c.Save(&file); err != nil {
		t.Fatal(err)
	}
	b := file.Bytes()
	// The check can fail: the position table is in the file.
	if !bytes.Contains(b, gobFloat(s.Model.Pos.W[3])) {
		t.Fatal("a position value is not found in the file: the search does not work")
	}
	secret := 0
	for _, p := range s.Model.Params() {
		if p.Name == s.Model.Pos.Name {
			continue
		}
		for _, v := range p.W {
			enc := gobFloat(v)
			if len(enc) < 7 { // a value with few significant bytes could match by chance
				continue
			}
			secret++
			if bytes.Contains(b, enc) {
				t.Fatalf("parameter %s value %v is in the client file", p.Name, v)
			}
		}
	}
	if secret < 1000 {
		t.Fatalf("only %d weights searched", secret)
	}
	var words int
	for _, w := range c.Vocab.Words {
		words += len(w) + 1
	}
	tables := 9 * (vocab*dim + maxLen*dim) // gob: at most 9 bytes per float64
	if len(b) > tables+words+1024 || len(b) < 8*(vocab*dim+maxLen*dim)/2 {
		t.Errorf("client file of %d bytes; tables ≤ %d bytes, vocabulary %d bytes", len(b), tables, words)
	}
	var model bytes.Buffer
	if err := s.Save(&model); err != nil {
		t.Fatal(err)
	}
	t.Logf("client tables %d bytes, whole model %d bytes", len(b), model.Len())
}

// TestClientTablesBadFiles: garbage, a truncated file, the wrong kind of
// file and inconsistent tables are errors that name the problem in plain
// words, never a panic.
func TestClientTablesBadFiles(t *testing.T) {
	s := heFriendlySaved(t, 20, 4, 8, 6)
	c, err := s.ClientTables()
	if err != nil {
		t.Fatal(err)
	}
	var good, model bytes.Buffer
	if err := c.Save(&good); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&model); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"garbage", []byte("definitely not a gob file"), "could not be decoded"},
		{"empty", nil, "could not be decoded"},
		{"truncated", good.Bytes()[:good.Len()/2], "could not be decoded"},
	} {
		if _, err := LoadClientTables(bytes.NewReader(tc.b)); !errors.Is(err, ErrNotClientTables) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadClientTables: %v", tc.name, err)
		}
		if _, _, err := LoadClientFile(write(tc.name, tc.b)); err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "gob") {
			t.Errorf("%s: LoadClientFile: %v", tc.name, err)
		}
	}
	// A whole model is not a table file (LoadClientFile takes both).
	if _, err := LoadClientTables(bytes.NewReader(model.Bytes())); !errors.Is(err, ErrNotClientTables) || !strings.Contains(err.Error(), ModelFormat) {
		t.Errorf("model as tables: %v", err)
	}
	// A softmax model has no encoder, so no client tables.
	cfg := s.Model.Cfg
	cfg.HEFriendly, cfg.QuadShift = false, 0
	soft, err := New(cfg, ReLU, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Saved{Model: soft, Vocab: s.Vocab}).ClientTables(); err == nil || !strings.Contains(err.Error(), "he-friendly") {
		t.Errorf("softmax model: %v", err)
	}
	// Inconsistent tables are refused on Save and on Load.
	bad := *c
	bad.Tokens = bad.Tokens[:len(bad.Tokens)-1]
	if err := bad.Save(&bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "token table") {
		t.Errorf("short token table saved: %v", err)
	}
	f := clientFile{Format: ClientFormat, Task: c.Task, Vocab: c.Vocab.Words, Dim: c.Dim, Heads: c.Heads, MaxTokens: c.MaxTokens,
		Layers: c.Layers, Classes: c.Classes, Tokens: c.Tokens, Positions: c.Positions[:3], Encoder: c.Encoder[:]}
	if _, err := f.tables(); err == nil || !strings.Contains(err.Error(), "position table") {
		t.Errorf("short position table loaded: %v", err)
	}
	f.Positions, f.Encoder = c.Positions, c.Encoder[:5]
	if _, err := f.tables(); err == nil || !strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("short fingerprint loaded: %v", err)
	}
	f.Encoder, f.Tokens = c.Encoder[:], append([]float64{math.NaN()}, c.Tokens[1:]...)
	if _, err := f.tables(); err == nil || !strings.Contains(err.Error(), "non-finite") {
		t.Errorf("NaN loaded: %v", err)
	}
}

// FuzzLoadClientTables: any bytes give tables or an error, never a panic;
// tables that load give rows for every id.
func FuzzLoadClientTables(f *testing.F) {
	s := heFriendlySaved(f, 5, 4, 4, 3)
	c, err := s.ClientTables()
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	if err := c.Save(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:b.Len()/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := LoadClientTables(bytes.NewReader(data))
		if err != nil {
			return
		}
		for id := range c.Vocab.Len() {
			if _, err := c.TokenRows([]int{id}); err != nil {
				t.Fatalf("id %d of %d: %v", id, c.Vocab.Len(), err)
			}
		}
	})
}
