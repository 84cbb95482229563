package shareddata

import (
	"os"
	"path/filepath"
	"strings"
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

func TestOutsideRepositoryNamesTheFix(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("KRELU_SHARED", "")
	t.Setenv("KRELU_GLOVE", "")
	if _, err := Root(); err == nil {
		t.Skip("a go.mod lies above the temporary directory")
	}
	for _, get := range []func() (string, error){
		func() (string, error) { return Path("sst2", "dev.tsv") },
		GloVeFile,
	} {
		_, err := get()
		if err == nil || !strings.Contains(err.Error(), "KRELU_SHARED") {
			t.Errorf("error %v does not name KRELU_SHARED", err)
		}
	}
}
