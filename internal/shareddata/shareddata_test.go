package shareddata

import (
	"os"
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
