package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/krelu/krelu/format"
)

// magic is the six-byte prefix of every .npy file.
const magic = "\x93NUMPY"

// MaxHeaderLen bounds the header dictionary. NumPy itself refuses headers
// above 10 000 bytes by default; we allow more but not the 4 GiB a
// version-2 length field could claim, so a corrupt file cannot make us
// allocate unbounded memory before a single value is read.
const MaxHeaderLen = 1 << 20

// chunkElems is how many values are decoded per read. Data are read
// incrementally so that a header claiming a huge shape on a short file
// fails with "truncated" instead of allocating the claimed size up front.
const chunkElems = 1 << 16

// ErrFormat is wrapped by every error about malformed .npy content.
var ErrFormat = errors.New("npy: invalid format")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// dtype describes a supported element type.
type dtype struct {
	size   int
	decode func(b []byte) float64
}

var dtypes = map[string]dtype{
	"f8": {8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }},
	"f4": {4, func(b []byte) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(b))) }},
	"f2": {2, func(b []byte) float64 { return float64(format.Float16(binary.LittleEndian.Uint16(b))) }},
	"i1": {1, func(b []byte) float64 { return float64(int8(b[0])) }},
	"u1": {1, func(b []byte) float64 { return float64(b[0]) }},
	"i2": {2, func(b []byte) float64 { return float64(int16(binary.LittleEndian.Uint16(b))) }},
	"u2": {2, func(b []byte) float64 { return float64(binary.LittleEndian.Uint16(b)) }},
	"i4": {4, func(b []byte) float64 { return float64(int32(binary.LittleEndian.Uint32(b))) }},
	"u4": {4, func(b []byte) float64 { return float64(binary.LittleEndian.Uint32(b)) }},
	"i8": {8, func(b []byte) float64 { return float64(int64(binary.LittleEndian.Uint64(b))) }},
	"u8": {8, func(b []byte) float64 { return float64(binary.LittleEndian.Uint64(b)) }},
}

// parseDescr maps a NumPy type string such as "<f8" or "|u1" to a dtype.
func parseDescr(s string) (dtype, error) {
	if len(s) < 2 {
		return dtype{}, formatErr("unsupported dtype %q", s)
	}
	order, kind := s[0], s[1:]
	dt, ok := dtypes[kind]
	if !ok {
		return dtype{}, formatErr("unsupported dtype %q (want float16/32/64 or int/uint 8–64)", s)
	}
	switch order {
	case '<':
	case '|':
		if dt.size != 1 {
			return dtype{}, formatErr("dtype %q: byte order '|' is only valid for 1-byte types", s)
		}
	case '=':
		// Native order: NumPy never writes it, but it means little-endian
		// on every platform this code targets.
	case '>':
		if dt.size == 1 {
			break
		}
		return dtype{}, formatErr("big-endian dtype %q is not supported", s)
	default:
		return dtype{}, formatErr("unsupported dtype %q", s)
	}
	return dt, nil
}

// header is the decoded header dictionary.
type header struct {
	descr   string
	fortran bool
	shape   []int
}

// Read decodes a .npy stream holding a C-ordered array of a supported
// little-endian numeric type and returns its values as float64 with its
// shape. A zero-dimensional array has shape [] and one value.
func Read(r io.Reader) (data []float64, shape []int, err error) {
	return read(r, -1)
}

// read decodes from r; size is the total length of the stream when known
// (a file), or -1. A known size lets a valid file be decoded into one
// allocation of exactly the right length and a lying header be refused
// before anything is allocated.
func read(r io.Reader, size int64) (data []float64, shape []int, err error) {
	br := bufio.NewReader(r)
	pre := make([]byte, 8)
	if _, err := io.ReadFull(br, pre); err != nil {
		return nil, nil, formatErr("reading magic: file too short (%v)", err)
	}
	if string(pre[:6]) != magic {
		return nil, nil, formatErr("bad magic %q (not a .npy file)", pre[:6])
	}
	major := pre[6]
	var hlen int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, nil, formatErr("reading header length: %v", err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, nil, formatErr("reading header length: %v", err)
		}
		n := binary.LittleEndian.Uint32(b[:])
		if n > MaxHeaderLen {
			return nil, nil, formatErr("header length %d exceeds limit %d", n, MaxHeaderLen)
		}
		hlen = int(n)
	default:
		return nil, nil, formatErr("unsupported format version %d.%d", major, pre[7])
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(br, hb); err != nil {
		return nil, nil, formatErr("header truncated: want %d bytes: %v", hlen, err)
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return nil, nil, err
	}
	if h.fortran {
		return nil, nil, formatErr("fortran_order arrays are not supported; save with np.ascontiguousarray")
	}
	dt, err := parseDescr(h.descr)
	if err != nil {
		return nil, nil, err
	}
	n := 1
	for _, d := range h.shape {
		if d < 0 {
			return nil, nil, formatErr("negative dimension in shape %v", h.shape)
		}
		if d != 0 && n > math.MaxInt/dt.size/d {
			return nil, nil, formatErr("shape %v is too large", h.shape)
		}
		n *= d
	}
	if size >= 0 {
		pre := int64(len(magic) + 2 + len(hb))
		if major == 1 {
			pre += 2
		} else {
			pre += 4
		}
		have := size - pre
		switch want := int64(n) * int64(dt.size); {
		case have < want:
			return nil, nil, formatErr("data truncated: shape %v needs %d values, file has %d", h.shape, n, have/int64(dt.size))
		case have > want:
			return nil, nil, formatErr("trailing data after %d values of shape %v", n, h.shape)
		}
	}
	capHint := min(n, chunkElems)
	if size >= 0 {
		capHint = n
	}
	data = make([]float64, 0, capHint)
	buf := make([]byte, min(n, chunkElems)*dt.size)
	for len(data) < n {
		m := min(n-len(data), chunkElems)
		b := buf[:m*dt.size]
		if k, err := io.ReadFull(br, b); err != nil {
			return nil, nil, formatErr("data truncated: shape %v needs %d values, file has %d", h.shape, n, len(data)+k/dt.size)
		}
		for i := 0; i < m; i++ {
			data = append(data, dt.decode(b[i*dt.size:]))
		}
	}
	if _, err := br.ReadByte(); err == nil {
		return nil, nil, formatErr("trailing data after %d values of shape %v", n, h.shape)
	}
	if h.shape == nil {
		h.shape = []int{}
	}
	return data, h.shape, nil
}

// ReadFile reads the .npy file at path.
func ReadFile(path string) ([]float64, []int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	data, shape, err := read(f, size)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, shape, nil
}

// parseHeader parses the Python dict literal of a .npy header, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }.
func parseHeader(s string) (header, error) {
	p := &pyParser{s: strings.TrimRight(s, " \n\x00")}
	var h header
	seen := map[string]bool{}
	p.skip()
	if !p.eat('{') {
		return h, formatErr("header is not a dict: %.40q", s)
	}
	for {
		p.skip()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, err
		}
		p.skip()
		if !p.eat(':') {
			return h, formatErr("header: missing ':' after key %q", key)
		}
		p.skip()
		switch key {
		case "descr":
			h.descr, err = p.str()
		case "fortran_order":
			h.fortran, err = p.boolean()
		case "shape":
			h.shape, err = p.tuple()
		default:
			return h, formatErr("header: unknown key %q", key)
		}
		if err != nil {
			return h, err
		}
		if seen[key] {
			return h, formatErr("header: duplicate key %q", key)
		}
		seen[key] = true
		p.skip()
		if p.eat(',') {
			continue
		}
		p.skip()
		if !p.eat('}') {
			return h, formatErr("header: expected ',' or '}' at offset %d", p.i)
		}
		break
	}
	p.skip()
	if p.i != len(p.s) {
		return h, formatErr("header: trailing characters after dict")
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, formatErr("header: missing key %q", k)
		}
	}
	return h, nil
}

type pyParser struct {
	s string
	i int
}

func (p *pyParser) skip() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n') {
		p.i++
	}
}

func (p *pyParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *pyParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", formatErr("header: expected a quoted string at offset %d", p.i)
	}
	q := p.s[p.i]
	j := strings.IndexByte(p.s[p.i+1:], q)
	if j < 0 {
		return "", formatErr("header: unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+j]
	p.i += j + 2
	return v, nil
}

func (p *pyParser) boolean() (bool, error) {
	switch {
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return false, formatErr("header: expected True or False at offset %d", p.i)
}

// maxDims matches NumPy's NPY_MAXDIMS.
const maxDims = 64

func (p *pyParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, formatErr("header: shape is not a tuple")
	}
	shape := []int{}
	for {
		p.skip()
		if p.eat(')') {
			return shape, nil
		}
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		if j == p.i {
			return nil, formatErr("header: expected a dimension at offset %d", p.i)
		}
		// Python 2 NumPy wrote long dimensions as "3L".
		d, err := strconv.Atoi(p.s[p.i:j])
		if err != nil {
			return nil, formatErr("header: dimension %q: %v", p.s[p.i:j], err)
		}
		p.i = j
		p.eat('L')
		shape = append(shape, d)
		if len(shape) > maxDims {
			return nil, formatErr("header: more than %d dimensions", maxDims)
		}
		p.skip()
		if p.eat(',') {
			continue
		}
		p.skip()
		if !p.eat(')') {
			return nil, formatErr("header: expected ',' or ')' in shape at offset %d", p.i)
		}
		return shape, nil
	}
}

// checkShape verifies that shape describes exactly n values.
func checkShape(n int, shape []int) error {
	size := 1
	for _, d := range shape {
		if d < 0 {
			return fmt.Errorf("npy: negative dimension in shape %v", shape)
		}
		size *= d
	}
	if size != n {
		return fmt.Errorf("npy: shape %v holds %d values, have %d", shape, size, n)
	}
	return nil
}

func writeHeader(w io.Writer, descr string, shape []int) error {
	var sb strings.Builder
	sb.WriteString("(")
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		sb.WriteString(",")
	}
	sb.WriteString(")")
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, sb.String())
	// Pad with spaces so that the data start on a 64-byte boundary, as
	// NumPy ≥ 1.14 does; the header ends with a newline.
	major, pre := byte(1), 10
	if len(dict)+1+pre > math.MaxUint16 {
		major, pre = 2, 12
	}
	total := (pre + len(dict) + 1 + 63) / 64 * 64
	hdr := dict + strings.Repeat(" ", total-pre-len(dict)-1) + "\n"
	var buf bytes.Buffer
	buf.WriteString(magic)
	buf.WriteByte(major)
	buf.WriteByte(0)
	if major == 1 {
		binary.Write(&buf, binary.LittleEndian, uint16(len(hdr)))
	} else {
		binary.Write(&buf, binary.LittleEndian, uint32(len(hdr)))
	}
	buf.WriteString(hdr)
	_, err := w.Write(buf.Bytes())
	return err
}

// Write encodes data as a C-ordered little-endian float64 (<f8) array of
// the given shape. A nil shape means a 1-d array of len(data).
func Write(w io.Writer, data []float64, shape []int) error {
	if shape == nil {
		shape = []int{len(data)}
	}
	if err := checkShape(len(data), shape); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := writeHeader(bw, "<f8", shape); err != nil {
		return err
	}
	var b [8]byte
	for _, v := range data {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		if _, err := bw.Write(b[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFloat32 encodes data as a little-endian float32 (<f4) array.
func WriteFloat32(w io.Writer, data []float32, shape []int) error {
	if shape == nil {
		shape = []int{len(data)}
	}
	if err := checkShape(len(data), shape); err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	if err := writeHeader(bw, "<f4", shape); err != nil {
		return err
	}
	var b [4]byte
	for _, v := range data {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		if _, err := bw.Write(b[:]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFile writes data as a float64 .npy file at path.
func WriteFile(path string, data []float64, shape []int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := Write(f, data, shape); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
