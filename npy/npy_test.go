package npy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// rawNPY builds a version-1 file by hand, the way numpy.save lays it out.
func rawNPY(dict string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString(magic)
	b.Write([]byte{1, 0})
	hdr := dict + "\n"
	binary.Write(&b, binary.LittleEndian, uint16(len(hdr)))
	b.WriteString(hdr)
	b.Write(payload)
	return b.Bytes()
}

func le(vals ...any) []byte {
	var b bytes.Buffer
	for _, v := range vals {
		binary.Write(&b, binary.LittleEndian, v)
	}
	return b.Bytes()
}

func TestRoundTripFloat64(t *testing.T) {
	data := []float64{0, -1.5, math.Pi, 1e300, -0.0, math.SmallestNonzeroFloat64}
	for _, shape := range [][]int{{6}, {2, 3}, {3, 1, 2}, nil} {
		var buf bytes.Buffer
		if err := Write(&buf, data, shape); err != nil {
			t.Fatal(err)
		}
		if (buf.Len()-len(data)*8)%64 != 0 {
			t.Errorf("shape %v: header not 64-byte aligned (%d bytes)", shape, buf.Len()-len(data)*8)
		}
		got, gshape, err := Read(&buf)
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		want := shape
		if want == nil {
			want = []int{len(data)}
		}
		if !equalInts(gshape, want) {
			t.Errorf("shape = %v, want %v", gshape, want)
		}
		for i := range data {
			if math.Float64bits(got[i]) != math.Float64bits(data[i]) {
				t.Errorf("value %d = %v, want %v", i, got[i], data[i])
			}
		}
	}
}

func TestRoundTripFloat32AndFile(t *testing.T) {
	data := []float32{1, -2.25, 3.5e-3, float32(math.Inf(1))}
	var buf bytes.Buffer
	if err := WriteFloat32(&buf, data, []int{2, 2}); err != nil {
		t.Fatal(err)
	}
	got, shape, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(shape, []int{2, 2}) {
		t.Errorf("shape %v", shape)
	}
	for i := range data {
		if got[i] != float64(data[i]) {
			t.Errorf("value %d = %v, want %v", i, got[i], data[i])
		}
	}
	path := filepath.Join(t.TempDir(), "a.npy")
	if err := WriteFile(path, []float64{7, 8}, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err = ReadFile(path)
	if err != nil || len(got) != 2 || got[1] != 8 {
		t.Fatalf("ReadFile = %v, %v", got, err)
	}
	if _, _, err := ReadFile(filepath.Join(t.TempDir(), "missing.npy")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestHandMadeTypes(t *testing.T) {
	tests := []struct {
		descr   string
		payload []byte
		want    []float64
	}{
		{"<f2", le(uint16(0x3c00), uint16(0xc000), uint16(0x0001), uint16(0x7bff)), []float64{1, -2, math.Ldexp(1, -24), 65504}},
		{"|i1", []byte{0xff, 0x7f}, []float64{-1, 127}},
		{"|u1", []byte{0xff, 0x7f}, []float64{255, 127}},
		{"<i2", le(int16(-300), int16(2)), []float64{-300, 2}},
		{"<i4", le(int32(-70000), int32(5)), []float64{-70000, 5}},
		{"<i8", le(int64(-1<<40), int64(9)), []float64{-1 << 40, 9}},
		{"<u4", le(uint32(4000000000), uint32(1)), []float64{4e9, 1}},
	}
	for _, tt := range tests {
		n := len(tt.want)
		dict := "{'descr': '" + tt.descr + "', 'fortran_order': False, 'shape': (" + strconv.Itoa(n) + ",), }"
		got, shape, err := Read(bytes.NewReader(rawNPY(dict, tt.payload)))
		if err != nil {
			t.Errorf("%s: %v", tt.descr, err)
			continue
		}
		if !equalInts(shape, []int{n}) {
			t.Errorf("%s: shape %v", tt.descr, shape)
		}
		for i := range tt.want {
			if got[i] != tt.want[i] {
				t.Errorf("%s: value %d = %v, want %v", tt.descr, i, got[i], tt.want[i])
			}
		}
	}
}

func TestScalarAndEmpty(t *testing.T) {
	got, shape, err := Read(bytes.NewReader(rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (), }", le(2.5))))
	if err != nil || len(got) != 1 || got[0] != 2.5 || len(shape) != 0 {
		t.Errorf("scalar: %v %v %v", got, shape, err)
	}
	got, shape, err = Read(bytes.NewReader(rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (0,), }", nil)))
	if err != nil || len(got) != 0 || !equalInts(shape, []int{0}) {
		t.Errorf("empty: %v %v %v", got, shape, err)
	}
}

func TestBadInput(t *testing.T) {
	ok := "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
	two := le(1.0, 2.0)
	v2 := func(n uint32) []byte {
		var b bytes.Buffer
		b.WriteString(magic)
		b.Write([]byte{2, 0})
		binary.Write(&b, binary.LittleEndian, n)
		return b.Bytes()
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"bad magic", append([]byte("\x93NUMPZ\x01\x00"), rawNPY(ok, two)[8:]...), "bad magic"},
		{"version", append([]byte(magic+"\x09\x00"), rawNPY(ok, two)[8:]...), "version"},
		{"fortran", rawNPY("{'descr': '<f8', 'fortran_order': True, 'shape': (2,), }", two), "fortran"},
		{"big endian", rawNPY("{'descr': '>f8', 'fortran_order': False, 'shape': (2,), }", two), "big-endian"},
		{"complex", rawNPY("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }", two), "unsupported dtype"},
		{"object", rawNPY("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", two), "unsupported dtype"},
		{"truncated data", rawNPY(ok, two[:12]), "truncated"},
		{"trailing data", rawNPY(ok, append(two, 0)), "trailing"},
		{"shape too big", rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }", two), "truncated"},
		{"shape overflow", rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", two), "too large"},
		{"missing key", rawNPY("{'descr': '<f8', 'shape': (2,), }", two), "missing key"},
		{"unknown key", rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}", two), "unknown key"},
		{"not a dict", rawNPY("hello", two), "not a dict"},
		{"bad shape", rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (a,), }", two), "dimension"},
		{"truncated header", rawNPY(ok, nil)[:20], "header truncated"},
		{"absurd header", v2(1 << 31), "exceeds limit"},
	}
	for _, tt := range tests {
		_, _, err := Read(bytes.NewReader(tt.in))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v does not wrap ErrFormat", tt.name, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q does not mention %q", tt.name, err, tt.want)
		}
	}
}

func TestWriteShapeMismatch(t *testing.T) {
	if err := Write(&bytes.Buffer{}, []float64{1, 2, 3}, []int{2, 2}); err == nil {
		t.Error("Write accepted shape (2,2) for 3 values")
	}
	if err := WriteFloat32(&bytes.Buffer{}, []float32{1}, []int{2}); err == nil {
		t.Error("WriteFloat32 accepted shape (2,) for 1 value")
	}
}

// FuzzRead checks that Read never panics and that whatever it accepts
// survives a float64 round trip unchanged.
func FuzzRead(f *testing.F) {
	f.Add(rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", le(1.0, 2.0)))
	f.Add(rawNPY("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }", le(float32(3))))
	f.Add(rawNPY("{'descr': '<f2', 'fortran_order': False, 'shape': (), }", le(uint16(0x3c00))))
	f.Add([]byte(magic + "\x03\x00\xff\xff\x00\x00"))
	f.Fuzz(func(t *testing.T, in []byte) {
		data, shape, err := Read(bytes.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, data, shape); err != nil {
			t.Fatalf("re-encoding accepted input: %v", err)
		}
		back, bshape, err := Read(&buf)
		if err != nil {
			t.Fatalf("reading own output: %v", err)
		}
		if !equalInts(shape, bshape) || len(back) != len(data) {
			t.Fatalf("round trip changed shape %v -> %v", shape, bshape)
		}
		for i := range data {
			if math.Float64bits(back[i]) != math.Float64bits(data[i]) {
				t.Fatalf("round trip changed value %d", i)
			}
		}
	})
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReadFileSizeChecks(t *testing.T) {
	dir := t.TempDir()
	ok := "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
	for name, c := range map[string]struct {
		in   []byte
		want string
	}{
		"short.npy": {rawNPY(ok, le(1.0)), "truncated"},
		"long.npy":  {rawNPY(ok, le(1.0, 2.0, 3.0)), "trailing"},
		"huge.npy":  {rawNPY("{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }", le(1.0)), "truncated"},
		"good.npy":  {rawNPY(ok, le(1.0, 2.0)), ""},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, c.in, 0o644); err != nil {
			t.Fatal(err)
		}
		data, _, err := ReadFile(p)
		switch {
		case c.want == "" && (err != nil || len(data) != 2 || data[1] != 2):
			t.Errorf("%s: %v %v", name, data, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want %q", name, err, c.want)
		}
	}
}
