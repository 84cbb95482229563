package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSharedFilesPresent(t *testing.T) {
	for _, f := range [][]string{
		{"llama2c", "stories260K.bin"},
		{"llama2c", "tok512.bin"},
		{"sst2", "train.tsv"},
		{"sst2", "dev.tsv"},
	} {
		p, err := Path(f...)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Fatalf("%s: empty or unreadable: %v", p, err)
		}
	}
}

func TestMNIST(t *testing.T) {
	if _, err := MNIST(); err != nil {
		t.Fatal(err)
	}
}

func TestFashionMNIST(t *testing.T) {
	d, err := FashionMNIST()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d, "train-images-idx3-ubyte.gz")); err != nil {
		t.Error(err)
	}
}

func TestGloVeFile(t *testing.T) {
	p, err := GloVeFile()
	if err != nil {
		t.Fatal(err)
	}
	// 341,479 vectors of 100 dimensions in JSON: hundreds of megabytes.
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 100<<20 {
		t.Errorf("%s: %d bytes, want hundreds of megabytes", p, st.Size())
	}
}

func TestPathMissing(t *testing.T) {
	t.Setenv("KRELU_SHARED", t.TempDir())
	if _, err := Path("llama2c", "stories260K.bin"); err == nil {
		t.Error("a missing file was found")
	}
}
