package format

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenWith(t *testing.T) {
	size := func(_ io.ReaderAt, n int64) (int64, error) { return n, nil }
	if _, _, err := OpenWith("gguf", filepath.Join(t.TempDir(), "missing"), size); err == nil || !strings.HasPrefix(err.Error(), "gguf: ") {
		t.Errorf("missing file: err = %v, want a gguf: prefix", err)
	}
	path := filepath.Join(t.TempDir(), "seven")
	if err := os.WriteFile(path, []byte("1234567"), 0o644); err != nil {
		t.Fatal(err)
	}
	n, fh, err := OpenWith("gguf", path, size)
	if err != nil || n != 7 {
		t.Fatalf("size %d, err %v; want 7, nil", n, err)
	}
	if err := fh.Close(); err != nil {
		t.Errorf("returned file not open: %v", err)
	}
	bad := errors.New("bad magic")
	_, fh, err = OpenWith("gguf", path, func(io.ReaderAt, int64) (int, error) { return 0, bad })
	if !errors.Is(err, bad) || !strings.HasPrefix(err.Error(), path+": ") || fh != nil {
		t.Errorf("parse failure: err = %v, file %v", err, fh)
	}
}
