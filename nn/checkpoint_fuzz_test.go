package nn

import (
	"bytes"
	"testing"

	"github.com/krelu/krelu/approx"
	"gonum.org/v1/gonum/mat"
)

// FuzzLoad: any bytes give a checkpoint or an error, never a panic; an
// accepted checkpoint runs on one input and saves back to the same bytes.
func FuzzLoad(f *testing.F) {
	mlp, err := NewMLP([]int{6, 4, 3}, approx.Poly{0.1, 0.5, 0.25}, 1)
	if err != nil {
		f.Fatal(err)
	}
	mlp.Task = "mnist"
	var b bytes.Buffer
	if err := mlp.Save(&b); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:len(b.Bytes())/2])
	f.Add([]byte("not a checkpoint"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Load(bytes.NewReader(data))
		if err != nil {
			return
		}
		if n.InputDim <= 0 {
			t.Fatalf("accepted input dimension %d", n.InputDim)
		}
		if n.InputDim <= 1<<16 {
			if _, err := n.Predict(mat.NewDense(1, n.InputDim, nil)); err != nil {
				t.Logf("predict: %v", err)
			}
		}
		var out bytes.Buffer
		if err := n.Save(&out); err != nil {
			t.Fatalf("accepted checkpoint does not save: %v", err)
		}
		if _, err := Load(bytes.NewReader(out.Bytes())); err != nil {
			t.Fatalf("saved checkpoint does not load: %v", err)
		}
	})
}
