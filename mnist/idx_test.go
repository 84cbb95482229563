package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func encodeIDX(dims []int, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

func TestReadIDXRawAndGzip(t *testing.T) {
	raw := encodeIDX([]int{2, 3}, []byte{1, 2, 3, 4, 5, 6})
	for name, b := range map[string][]byte{"raw": raw, "gzip": gz(raw)} {
		x, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(x.Dims) != 2 || x.Dims[0] != 2 || x.Dims[1] != 3 || !bytes.Equal(x.Data, []byte{1, 2, 3, 4, 5, 6}) {
			t.Errorf("%s: got %+v", name, x)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := encodeIDX([]int{2, 2}, []byte{1, 2, 3, 4})
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "magic"},
		{"bad magic", append([]byte{1, 0}, good[2:]...), "bad magic"},
		{"float type", append([]byte{0, 0, 0x0d}, good[3:]...), "not supported"},
		{"truncated header", good[:6], "dimension"},
		{"truncated data", good[:len(good)-1], "truncated"},
		{"trailing", append(append([]byte{}, good...), 9), "trailing"},
		{"zero dim", encodeIDX([]int{0}, nil), "zero"},
		{"huge", encodeIDX([]int{1 << 20, 1 << 20}, nil), "exceed"},
		{"truncated gzip", gz(good)[:20], "idx"},
	} {
		_, err := ReadIDX(bytes.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want error containing %q", c.name, err, c.want)
		}
	}
}

func TestFromIDXValidates(t *testing.T) {
	im := &IDX{Dims: []int{1, 28, 28}, Data: make([]byte, 784)}
	if _, err := FromIDX(im, &IDX{Dims: []int{1}, Data: []byte{10}}); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("label 10: got %v", err)
	}
	if _, err := FromIDX(&IDX{Dims: []int{1, 27, 29}, Data: make([]byte, 783)}, &IDX{Dims: []int{1}, Data: []byte{1}}); err == nil || !strings.Contains(err.Error(), "28") {
		t.Errorf("wrong size: got %v", err)
	}
	if _, err := FromIDX(im, &IDX{Dims: []int{2}, Data: []byte{1, 2}}); err == nil || !strings.Contains(err.Error(), "labels") {
		t.Errorf("count mismatch: got %v", err)
	}
	if _, err := NewSet(mat.NewDense(1, 10, nil), []int{1}); err == nil || !strings.Contains(err.Error(), "784") {
		t.Errorf("wrong width: got %v", err)
	}
}

func TestLoadReal(t *testing.T) {
	for _, task := range []Task{MNIST, Fashion} {
		s, err := Load(task, "", false)
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != 10000 {
			t.Fatalf("%s: %d test images", task, s.Len())
		}
		counts := make([]int, Classes)
		for _, y := range s.Y {
			counts[y]++
		}
		for c, n := range counts {
			// Both test sets are close to balanced (MNIST: 892..1135 per class,
			// Fashion-MNIST: exactly 1000).
			if n < 850 || n > 1200 {
				t.Errorf("%s: class %d has %d images", task, c, n)
			}
		}
		if v := mat.Max(s.X); v > 1 || v < 0.99 {
			t.Errorf("%s: max pixel %v, want 1", task, v)
		}
	}
	// MNIST test label 0 is a 7 (LeCun's file).
	s, _ := Load(MNIST, "", false)
	if s.Y[0] != 7 {
		t.Errorf("first MNIST test label %d, want 7", s.Y[0])
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(encodeIDX([]int{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(gz(encodeIDX([]int{3}, []byte{1, 2, 3})))
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadIDX(bytes.NewReader(b))
		if err != nil {
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Fatalf("dims %v but %d bytes", x.Dims, len(x.Data))
		}
	})
}
