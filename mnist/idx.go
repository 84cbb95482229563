package mnist

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxElements bounds the product of the dimensions of an IDX file, so that
// a corrupt header cannot make the reader allocate gigabytes.
const MaxElements = 1 << 28

// IDX is a decoded unsigned-byte IDX array.
type IDX struct {
	Dims []int  // dimension sizes, outermost first
	Data []byte // row-major values, len = product of Dims
}

// ReadIDX decodes an unsigned-byte IDX array from r, which may be gzip
// compressed. Truncated data, a bad magic number, an unsupported element
// type and trailing bytes are all errors.
func ReadIDX(r io.Reader) (*IDX, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if err == nil && head[0] == 0x1f && head[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("idx: gzip: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
	}
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil {
		return nil, fmt.Errorf("idx: reading magic number: %w", noEOF(err))
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("idx: bad magic number % x (want 00 00 TYPE NDIMS)", magic[:])
	}
	if magic[2] != 0x08 {
		return nil, fmt.Errorf("idx: element type 0x%02x not supported (only 0x08, unsigned byte)", magic[2])
	}
	nd := int(magic[3])
	if nd == 0 {
		return nil, errors.New("idx: zero dimensions")
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		var d uint32
		if err := binary.Read(br, binary.BigEndian, &d); err != nil {
			return nil, fmt.Errorf("idx: reading dimension %d: %w", i, noEOF(err))
		}
		if d == 0 {
			return nil, fmt.Errorf("idx: dimension %d is zero", i)
		}
		dims[i] = int(d)
		if total > MaxElements/dims[i] {
			return nil, fmt.Errorf("idx: dimensions %v exceed %d elements", dims[:i+1], MaxElements)
		}
		total *= dims[i]
	}
	data := make([]byte, total)
	if n, err := io.ReadFull(br, data); err != nil {
		return nil, fmt.Errorf("idx: truncated: %d of %d data bytes: %w", n, total, noEOF(err))
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, fmt.Errorf("idx: trailing bytes after %d data bytes", total)
	} else if err != io.EOF {
		return nil, fmt.Errorf("idx: %w", err)
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// ReadIDXFile reads the IDX file at path.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := ReadIDX(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return x, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
