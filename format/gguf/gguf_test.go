package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/krelu/krelu/llama2c"
)

// writer builds GGUF files for tests.
type writer struct{ b bytes.Buffer }

func (w *writer) u32(v uint32) { binary.Write(&w.b, binary.LittleEndian, v) }
func (w *writer) u64(v uint64) { binary.Write(&w.b, binary.LittleEndian, v) }
func (w *writer) str(s string) { w.u64(uint64(len(s))); w.b.WriteString(s) }

type tensor struct {
	name string
	dims []uint64
	typ  uint32
	data []byte
}

// build writes a v3 file with string/uint32/float32/array metadata and
// the tensors, laid out with the given alignment.
func build(version uint32, align uint32, tensors []tensor) []byte {
	var w writer
	w.u32(Magic)
	w.u32(version)
	w.u64(uint64(len(tensors)))
	w.u64(4)
	w.str("general.architecture")
	w.u32(TypeString)
	w.str("llama")
	w.str("general.alignment")
	w.u32(TypeUint32)
	w.u32(align)
	w.str("llama.rope.freq_base")
	w.u32(TypeFloat32)
	binary.Write(&w.b, binary.LittleEndian, float32(10000))
	w.str("tokenizer.ggml.tokens")
	w.u32(TypeArray)
	w.u32(TypeString)
	w.u64(2)
	w.str("<unk>")
	w.str("<s>")
	off := uint64(0)
	for _, t := range tensors {
		w.str(t.name)
		w.u32(uint32(len(t.dims)))
		for _, d := range t.dims {
			w.u64(d)
		}
		w.u32(t.typ)
		w.u64(off)
		off += (uint64(len(t.data)) + uint64(align) - 1) / uint64(align) * uint64(align)
	}
	for w.b.Len()%int(align) != 0 {
		w.b.WriteByte(0)
	}
	for _, t := range tensors {
		w.b.Write(t.data)
		for w.b.Len()%int(align) != 0 {
			w.b.WriteByte(0)
		}
	}
	return w.b.Bytes()
}

func f32bytes(v []float32) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, v)
	return b.Bytes()
}

// The token embedding of the real stories260K model survives a round trip
// through GGUF, stored as llama.cpp stores it (dims [dim, vocab]).
func TestStoriesEmbeddingRoundTrip(t *testing.T) {
	m, _, err := llama2c.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	f16 := []byte{0x00, 0x3c, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x7c} // 1, −2, 0, +Inf
	b := build(3, 32, []tensor{
		{"token_embd.weight", []uint64{64, 512}, GGMLTypeF32, f32bytes(m.TokenEmbedding)},
		{"h16", []uint64{4}, GGMLTypeF16, f16},
		{"q4", []uint64{32}, 2, make([]byte, 18)}, // Q4_0: listed, not converted
	})
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 32 || len(f.Tensors) != 3 {
		t.Fatalf("version %d alignment %d tensors %d", f.Version, f.Alignment, len(f.Tensors))
	}
	if a, _ := f.String("general.architecture"); a != "llama" {
		t.Errorf("architecture %q", a)
	}
	if toks, _ := f.Metadata["tokenizer.ggml.tokens"].([]any); len(toks) != 2 || toks[1] != "<s>" {
		t.Errorf("tokens %v", f.Metadata["tokenizer.ggml.tokens"])
	}
	if fb, _ := f.Metadata["llama.rope.freq_base"].(float32); fb != 10000 {
		t.Errorf("freq_base %v", f.Metadata["llama.rope.freq_base"])
	}
	v, dims, err := f.Float32("token_embd.weight")
	if err != nil {
		t.Fatal(err)
	}
	if dims[0] != 64 || dims[1] != 512 {
		t.Errorf("dims %v", dims)
	}
	for i := range v {
		if v[i] != m.TokenEmbedding[i] {
			t.Fatalf("value %d: %v, want %v", i, v[i], m.TokenEmbedding[i])
		}
	}
	h, _, err := f.Float32("h16")
	if err != nil || h[0] != 1 || h[1] != -2 || h[2] != 0 || !math.IsInf(float64(h[3]), 1) {
		t.Errorf("F16 tensor %v, %v", h, err)
	}
	if _, _, err := f.Float32("q4"); err == nil || !strings.Contains(err.Error(), "ggml type 2") {
		t.Errorf("Q4_0 conversion: %v", err)
	}
	if _, _, err := f.Float32("nope"); err == nil {
		t.Error("missing tensor found")
	}
}

func TestCorrupt(t *testing.T) {
	good := build(3, 32, []tensor{{"a", []uint64{2, 2}, GGMLTypeF32, f32bytes([]float32{1, 2, 3, 4})}})
	if _, err := Parse(good); err != nil {
		t.Fatal(err)
	}
	set32 := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	set64 := func(off int, v uint64) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint64(b[off:], v)
		return b
	}
	// Offsets in good: magic 0, version 4, tensor count 8, kv count 16, first key length 24.
	keyLen := 24
	valType := keyLen + 8 + len("general.architecture")
	alignVal := valType + 4 + 8 + len("llama") + 8 + len("general.alignment") + 4
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":          {nil, "too short"},
		"magic":          {append([]byte("GGML"), good[4:]...), "magic"},
		"version 1":      {set32(4, 1), "version 1"},
		"version 9":      {set32(4, 9), "version 9"},
		"truncated hdr":  {good[:30], "truncated"},
		"truncated data": {good[:len(good)-32+15], "past the end"},
		"tensor count":   {set64(8, 1<<40), "exceed the limits"},
		"kv count":       {set64(16, 1<<21), "exceed the limits"},
		"key length":     {set64(keyLen, 1<<50), "only"},
		"value type":     {set32(valType, 77), "unknown metadata value type 77"},
		"alignment":      {set32(alignVal, 3), "power-of-two"},
	} {
		_, err := Parse(tc.b)
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrFormat mentioning %q", name, err, tc.want)
		}
	}
	// Arrays nested deeper than maxArrayNst.
	var w writer
	w.u32(Magic)
	w.u32(3)
	w.u64(0)
	w.u64(1)
	w.str("deep")
	w.u32(TypeArray)
	for range 5 {
		w.u32(TypeArray)
		w.u64(1)
	}
	w.u32(TypeUint8)
	w.u64(1)
	w.b.WriteByte(7)
	if _, err := Parse(w.b.Bytes()); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep arrays: %v", err)
	}
	for name, tc := range map[string]struct {
		tensors []tensor
		want    string
	}{
		"n_dims 0":  {[]tensor{{"a", nil, GGMLTypeF32, nil}}, "n_dims 0"},
		"n_dims 5":  {[]tensor{{"a", []uint64{1, 1, 1, 1, 1}, GGMLTypeF32, f32bytes([]float32{1})}}, "n_dims 5"},
		"huge dims": {[]tensor{{"a", []uint64{1 << 40, 1 << 40}, GGMLTypeF32, nil}}, "exceed the file size"},
		"duplicate": {[]tensor{{"a", []uint64{1}, GGMLTypeF32, f32bytes([]float32{1})}, {"a", []uint64{1}, GGMLTypeF32, f32bytes([]float32{1})}}, "duplicate tensor"},
		"size":      {[]tensor{{"a", []uint64{100}, GGMLTypeF32, f32bytes([]float32{1})}}, "past the end"},
	} {
		_, err := Parse(build(3, 32, tc.tensors))
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrFormat mentioning %q", name, err, tc.want)
		}
	}
	// Misaligned and overlapping offsets.
	b := append([]byte(nil), good...)
	f, _ := Parse(good)
	infoOff := bytes.Index(b, []byte{1, 0, 0, 0, 0, 0, 0, 0, 'a'}) + 9 + 4 + 16 + 4
	binary.LittleEndian.PutUint64(b[infoOff:], 4)
	if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "not aligned") {
		t.Errorf("misaligned offset: %v (data start %d)", err, f.DataStart)
	}
	two := build(3, 32, []tensor{{"a", []uint64{4}, GGMLTypeF32, f32bytes([]float32{1, 2, 3, 4})}, {"b", []uint64{4}, GGMLTypeF32, f32bytes([]float32{1, 2, 3, 4})}})
	i := bytes.LastIndex(two, []byte{1, 0, 0, 0, 0, 0, 0, 0, 'b'}) + 9 + 4 + 8 + 4
	binary.LittleEndian.PutUint64(two[i:], 0)
	if _, err := Parse(two); err == nil || !strings.Contains(err.Error(), "overlap") {
		t.Errorf("overlap: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(build(3, 32, []tensor{{"a", []uint64{2, 2}, GGMLTypeF32, f32bytes([]float32{1, 2, 3, 4})}}))
	f.Add(build(2, 8, []tensor{{"h", []uint64{2}, GGMLTypeF16, []byte{0, 0x3c, 0, 0}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error does not wrap ErrFormat: %v", err)
			}
			return
		}
		for _, ti := range g.Tensors {
			v, _, err := g.Float32(ti.Name)
			if err == nil && uint64(len(v)) != ti.NumElem() {
				t.Fatalf("%s: %d values for %d elements", ti.Name, len(v), ti.NumElem())
			}
		}
	})
}

func ExampleParse() {
	var w writer
	w.u32(Magic)
	w.u32(3)
	w.u64(1) // tensors
	w.u64(1) // metadata
	w.str("general.name")
	w.u32(TypeString)
	w.str("tiny")
	w.str("w")
	w.u32(1)
	w.u64(2)
	w.u32(GGMLTypeF32)
	w.u64(0)
	for w.b.Len()%32 != 0 {
		w.b.WriteByte(0)
	}
	w.b.Write(f32bytes([]float32{0.25, -4}))

	f, err := Parse(w.b.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	name, _ := f.String("general.name")
	v, dims, _ := f.Float32("w")
	fmt.Println(name, v, dims)
	// Output: tiny [0.25 -4] [2]
}
