package format

import (
	"fmt"
	"io"
	"os"
)

// OpenWith opens path and parses it with parse, which reads the header
// through an io.ReaderAt of the file's size; tensor data are read later on
// demand, so the file stays open and is returned to be closed by the
// caller. On failure the file is closed and the error names pkg (for an
// unreadable file) or path (for a bad one).
func OpenWith[T any](pkg, path string, parse func(r io.ReaderAt, size int64) (T, error)) (T, *os.File, error) {
	var zero T
	fh, err := os.Open(path)
	if err != nil {
		return zero, nil, fmt.Errorf("%s: %w", pkg, err)
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return zero, nil, fmt.Errorf("%s: %w", pkg, err)
	}
	v, err := parse(fh, st.Size())
	if err != nil {
		fh.Close()
		return zero, nil, fmt.Errorf("%s: %w", path, err)
	}
	return v, fh, nil
}
