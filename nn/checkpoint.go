package nn

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
)

// Magic and Version identify a checkpoint; see the package documentation
// for the layout.
const (
	Magic   = "KRELUNN\x00"
	Version = 2
)

// minVersion is the oldest format Load reads. Version 2 added the input
// shape and preprocessing to the header; version-1 files have neither
// (and may lack the task), see CheckTask.
const minVersion = 1

// maxHeader bounds the JSON header so a corrupt length cannot allocate much.
const maxHeader = 1 << 20

type header struct {
	Arch       string      `json:"arch"`
	Task       string      `json:"task,omitempty"`
	InputDim   int         `json:"input_dim"`
	InputShape []int       `json:"input_shape,omitempty"`
	Preprocess string      `json:"preprocess,omitempty"`
	Layers     []LayerSpec `json:"layers"`
}

// Save writes n as a checkpoint of the current Version.
func (n *Network) Save(w io.Writer) error {
	h, err := json.Marshal(header{Arch: n.Arch, Task: n.Task, InputDim: n.InputDim, InputShape: n.InputShape,
		Preprocess: n.Preprocess, Layers: n.Specs()})
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(Magic)
	binary.Write(&b, binary.LittleEndian, uint32(Version))
	binary.Write(&b, binary.LittleEndian, uint32(len(h)))
	b.Write(h)
	for _, p := range n.Params() {
		for _, v := range p.Value {
			binary.Write(&b, binary.LittleEndian, math.Float64bits(v))
		}
	}
	binary.Write(&b, binary.LittleEndian, crc32.ChecksumIEEE(b.Bytes()))
	_, err = w.Write(b.Bytes())
	return err
}

// SaveFile writes n to path.
func (n *Network) SaveFile(path string) error {
	var b bytes.Buffer
	if err := n.Save(&b); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// Load reads a checkpoint and rebuilds the network it describes.
func Load(r io.Reader) (*Network, error) {
	data, err := io.ReadAll(bufio.NewReader(r))
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if len(data) < len(Magic)+12 || string(data[:len(Magic)]) != Magic {
		return nil, errors.New("checkpoint: not a krelu network checkpoint (bad magic)")
	}
	rest := data[len(Magic):]
	if v := binary.LittleEndian.Uint32(rest); v < minVersion || v > Version {
		return nil, fmt.Errorf("checkpoint: format version %d not supported (this build reads versions %d to %d)", v, minVersion, Version)
	}
	hl := binary.LittleEndian.Uint32(rest[4:])
	if hl > maxHeader || int(hl) > len(rest)-12 {
		return nil, fmt.Errorf("checkpoint: header length %d exceeds the file", hl)
	}
	body := data[:len(data)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, errors.New("checkpoint: checksum mismatch (file truncated or corrupt)")
	}
	var h header
	dec := json.NewDecoder(bytes.NewReader(rest[8 : 8+hl]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("checkpoint: header: %w", err)
	}
	n, err := fromSpecs(h.Arch, h.Task, h.InputDim, h.Layers)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if h.InputShape != nil && product(h.InputShape) != h.InputDim {
		return nil, fmt.Errorf("checkpoint: input shape %v does not hold %d inputs", h.InputShape, h.InputDim)
	}
	n.InputShape, n.Preprocess = h.InputShape, h.Preprocess
	vals := body[len(Magic)+8+int(hl):]
	want := 0
	for _, p := range n.Params() {
		want += len(p.Value)
	}
	if len(vals) != 8*want {
		return nil, fmt.Errorf("checkpoint: %d parameter bytes for %s, want %d", len(vals), n.Describe(), 8*want)
	}
	for _, p := range n.Params() {
		for i := range p.Value {
			p.Value[i] = math.Float64frombits(binary.LittleEndian.Uint64(vals))
			vals = vals[8:]
		}
	}
	return n, nil
}

// LoadFile reads the checkpoint at path.
func LoadFile(path string) (*Network, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return n, nil
}

// LoadInto reads a checkpoint into n, which must have the same layers
// (types and sizes); activation polynomials are taken from the checkpoint.
func (n *Network) LoadInto(r io.Reader) error {
	m, err := Load(r)
	if err != nil {
		return err
	}
	if err := n.SameArchitecture(m); err != nil {
		return err
	}
	src, dst := m.Params(), n.Params()
	for i := range src {
		copy(dst[i].Value, src[i].Value)
	}
	for i, a := range m.Acts() {
		n.Acts()[i].Poly = a.Poly
	}
	return nil
}

// SameArchitecture returns a descriptive error unless m has n's layers.
func (n *Network) SameArchitecture(m *Network) error {
	a, b := n.Specs(), m.Specs()
	if n.InputDim == m.InputDim && len(a) == len(b) {
		same := true
		for i := range a {
			same = same && a[i].sameShape(b[i])
		}
		if same {
			return nil
		}
	}
	return fmt.Errorf("checkpoint architecture %q does not match the network: have %s, want %s", m.Arch, m.Describe(), n.Describe())
}

func product(shape []int) int {
	p := 1
	for _, d := range shape {
		if d <= 0 || p > 1<<30/d {
			return -1
		}
		p *= d
	}
	return p
}

// ErrTaskMismatch is wrapped by CheckTask's errors.
var ErrTaskMismatch = errors.New("model trained for another task")

// CheckTask returns an error wrapping ErrTaskMismatch unless n can be
// used on task, whose data have the given input shape and preprocessing.
// A checkpoint without a recorded task (written before krelu recorded
// one) is accepted only when the caller names the task explicitly
// (explicit = true): MNIST and Fashion-MNIST models have the same shape,
// so the task cannot be inferred from it. Recorded shape and
// preprocessing must match when present; InputDim always must.
func (n *Network) CheckTask(task string, explicit bool, shape []int, preprocess string) error {
	switch {
	case n.Task == "" && !explicit:
		return fmt.Errorf("%w: the model records no task (checkpoint written before krelu recorded it); name the task it was trained for explicitly", ErrTaskMismatch)
	case n.Task != "" && n.Task != task:
		return fmt.Errorf("%w: the model was trained for %s, not %s (its accuracy there would be meaningless)", ErrTaskMismatch, n.Task, task)
	}
	if want := product(shape); n.InputDim != want {
		return fmt.Errorf("%w: the model takes %d inputs; %s inputs have shape %v = %d values", ErrTaskMismatch, n.InputDim, task, shape, want)
	}
	if n.InputShape != nil && !slices.Equal(n.InputShape, shape) {
		return fmt.Errorf("%w: the model takes inputs of shape %v; %s inputs have shape %v", ErrTaskMismatch, n.InputShape, task, shape)
	}
	if n.Preprocess != "" && n.Preprocess != preprocess {
		return fmt.Errorf("%w: the model was trained on inputs preprocessed as %q; %s inputs are %q", ErrTaskMismatch, n.Preprocess, task, preprocess)
	}
	return nil
}
