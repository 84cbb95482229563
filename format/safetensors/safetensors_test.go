package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// build writes a safetensors file from a header map and a data buffer.
func build(t testing.TB, hdr map[string]any, data []byte) []byte {
	t.Helper()
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(h)))
	b.Write(h)
	b.Write(data)
	return b.Bytes()
}

// sample has an F32 [2,3], an F16 [3] and a BF16 [2] tensor.
func sample(t testing.TB) []byte {
	var data bytes.Buffer
	for _, v := range []float32{1, -2, 3.5, 0, 1e-3, -7} {
		binary.Write(&data, binary.LittleEndian, v)
	}
	for _, h := range []uint16{0x3c00, 0xc000, 0x0001} { // 1, −2, 2^-24
		binary.Write(&data, binary.LittleEndian, h)
	}
	for _, h := range []uint16{0x3f80, 0xc0a0} { // 1, −5
		binary.Write(&data, binary.LittleEndian, h)
	}
	return build(t, map[string]any{
		"__metadata__": map[string]string{"format": "pt"},
		"w":            map[string]any{"dtype": "F32", "shape": []int{2, 3}, "data_offsets": []int{0, 24}},
		"h":            map[string]any{"dtype": "F16", "shape": []int{3}, "data_offsets": []int{24, 30}},
		"b":            map[string]any{"dtype": "BF16", "shape": []int{2}, "data_offsets": []int{30, 34}},
	}, data.Bytes())
}

func TestReadValues(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(path, sample(t), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" || strings.Join(f.Names(), ",") != "b,h,w" {
		t.Fatalf("metadata %v, names %v", f.Metadata, f.Names())
	}
	for _, tc := range []struct {
		name  string
		want  []float64
		shape []int
	}{
		{"w", []float64{1, -2, 3.5, 0, 1e-3, -7}, []int{2, 3}},
		{"h", []float64{1, -2, math.Pow(2, -24)}, []int{3}},
		{"b", []float64{1, -5}, []int{2}},
	} {
		v, shape, err := f.Float64(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(shape) != len(tc.shape) || shape[0] != tc.shape[0] {
			t.Errorf("%s: shape %v, want %v", tc.name, shape, tc.shape)
		}
		for i := range tc.want {
			if math.Abs(v[i]-tc.want[i]) > 1e-9*math.Max(1, math.Abs(tc.want[i])) {
				t.Errorf("%s[%d] = %v, want %v", tc.name, i, v[i], tc.want[i])
			}
		}
	}
	if _, _, err := f.Float32("nope"); err == nil || !strings.Contains(err.Error(), `no tensor "nope"`) {
		t.Errorf("missing tensor: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	good := sample(t)
	hl := binary.LittleEndian.Uint64(good)
	withLen := func(n uint64) []byte {
		b := append([]byte(nil), good...)
		binary.LittleEndian.PutUint64(b, n)
		return b
	}
	f32 := func(off [2]int, shape []int) map[string]any {
		return map[string]any{"dtype": "F32", "shape": shape, "data_offsets": off}
	}
	data := make([]byte, 16)
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"empty":         {nil, "too short"},
		"short":         {good[:5], "too short"},
		"zero header":   {withLen(0), "header length 0"},
		"absurd header": {withLen(1 << 40), "out of range"},
		"truncated":     {good[:8+hl-3], "truncated"},
		"short data":    {good[:len(good)-1], "outside"},
		"trailing":      {append(append([]byte(nil), good...), 0), "cover"},
		"header only":   {withLen(hl)[:8:8], "exceeds the 0 bytes"},
		"wrong magic":   {append([]byte{2, 0, 0, 0, 0, 0, 0, 0}, "[]"...), "'{'"},
		"bad json":      {append([]byte{3, 0, 0, 0, 0, 0, 0, 0}, "{x}"...), "header JSON"},
		"dtype":         {build(t, map[string]any{"a": map[string]any{"dtype": "Q4", "shape": []int{1}, "data_offsets": []int{0, 16}}}, data), "unknown dtype"},
		"size mismatch": {build(t, map[string]any{"a": f32([2]int{0, 16}, []int{5})}, data), "want 20"},
		"overlap":       {build(t, map[string]any{"a": f32([2]int{0, 8}, []int{2}), "b": f32([2]int{4, 12}, []int{2}), "c": f32([2]int{12, 16}, []int{1})}, data), "overlap"},
		"gap":           {build(t, map[string]any{"a": f32([2]int{0, 8}, []int{2}), "b": f32([2]int{12, 16}, []int{1})}, data), "gap"},
		"negative":      {build(t, map[string]any{"a": f32([2]int{0, 16}, []int{-4})}, data), "negative"},
		"huge shape":    {build(t, map[string]any{"a": f32([2]int{0, 16}, []int{1 << 40, 1 << 40})}, data), "needs more"},
		"offsets":       {build(t, map[string]any{"a": f32([2]int{8, 4}, []int{1})}, data), "outside"},
		"unknown field": {build(t, map[string]any{"a": map[string]any{"dtype": "F32", "shape": []int{4}, "data_offsets": []int{0, 16}, "x": 1}}, data), "unknown field"},
		"metadata":      {build(t, map[string]any{"__metadata__": map[string]int{"a": 1}}, nil), "__metadata__"},
	} {
		_, err := Parse(tc.b)
		if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrFormat mentioning %q", name, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample(f))
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := Parse(b)
		if err != nil {
			return
		}
		for _, n := range sf.Names() {
			in, _ := sf.Info(n)
			v, _, err := sf.Float64(n)
			if err == nil && int64(len(v)) != in.NumElem {
				t.Fatalf("%s: %d values for %d elements", n, len(v), in.NumElem)
			}
		}
	})
}

func ExampleParse() {
	var data bytes.Buffer
	binary.Write(&data, binary.LittleEndian, []float32{0.5, -1.5})
	hdr := []byte(`{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`)
	var file bytes.Buffer
	binary.Write(&file, binary.LittleEndian, uint64(len(hdr)))
	file.Write(hdr)
	file.Write(data.Bytes())

	f, err := Parse(file.Bytes())
	if err != nil {
		panic(err)
	}
	v, shape, _ := f.Float32("x")
	fmt.Println(v, shape)
	// Output: [0.5 -1.5] [2]
}
