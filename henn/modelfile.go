package henn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/krelu/krelu/graph"
)

// ModelFormat opens every .henn file: the version of the format below.
const ModelFormat = "krelu.henn/v1"

// maxModelBytes bounds what ReadModelFile accepts.
const maxModelBytes = 1 << 30

// ModelFile is an HE-ready model: the rewritten graph (polynomial
// activations, BatchNormalization folded) and the calibration report that
// produced it. It holds no key and no CKKS parameters: those are planned
// again by [CompileGraph] when the model is loaded.
type ModelFile struct {
	Format string `json:"format"`
	// Source names the model it was compiled from (e.g. lenet5.onnx).
	Source string       `json:"source"`
	Graph  *graph.Graph `json:"graph"`
	// Report is the calibration report (package rewrite's Report), kept
	// opaque here.
	Report json.RawMessage `json:"report,omitempty"`
}

// WriteModelFile writes mf to path: a header line, then JSON.
func WriteModelFile(path string, mf *ModelFile) error {
	if mf == nil || mf.Graph == nil {
		return errors.New("henn: nothing to write (no graph)")
	}
	mf.Format = ModelFormat
	var buf bytes.Buffer
	buf.WriteString(ModelFormat + "\n")
	if err := json.NewEncoder(&buf).Encode(mf); err != nil {
		return fmt.Errorf("henn: encoding the model: %w", err)
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// ReadModel reads a .henn model and checks it: the header, well-formed
// JSON, a valid graph whose activations are polynomials.
func ReadModel(r io.Reader) (*ModelFile, error) {
	br := bufio.NewReader(io.LimitReader(r, maxModelBytes+1))
	head, err := br.ReadString('\n')
	if err != nil || head != ModelFormat+"\n" {
		return nil, fmt.Errorf("not a krelu model file (want the header %q; make one with krelu compile)", ModelFormat)
	}
	var mf ModelFile
	dec := json.NewDecoder(br)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mf); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("corrupt %s model: malformed JSON near byte %d", ModelFormat, se.Offset+int64(len(head)))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("corrupt %s model: truncated", ModelFormat)
		}
		return nil, fmt.Errorf("corrupt %s model: a field has the wrong type or name", ModelFormat)
	}
	if mf.Format != ModelFormat {
		return nil, fmt.Errorf("model format %q, this krelu reads %q", mf.Format, ModelFormat)
	}
	if mf.Graph == nil {
		return nil, fmt.Errorf("corrupt %s model: no graph", ModelFormat)
	}
	if mf.Graph.Initializers == nil {
		mf.Graph.Initializers = map[string]*graph.Tensor{}
	}
	for name, t := range mf.Graph.Initializers {
		if t == nil {
			return nil, fmt.Errorf("corrupt %s model: initializer %q is empty", ModelFormat, name)
		}
		if n, err := graph.ShapeSize(t.Shape); err != nil || n != len(t.Data) {
			return nil, fmt.Errorf("corrupt %s model: initializer %q has %d values for shape %v", ModelFormat, name, len(t.Data), t.Shape)
		}
	}
	for i, n := range mf.Graph.Nodes {
		if n == nil {
			return nil, fmt.Errorf("corrupt %s model: node %d is empty", ModelFormat, i)
		}
		if graph.ActivationOps[n.Op] {
			return nil, fmt.Errorf("model node %q is still a %s activation; a .henn model holds polynomial activations only", n.Name, n.Op)
		}
	}
	if err := mf.Graph.Validate(); err != nil {
		return nil, fmt.Errorf("invalid model graph: %w", err)
	}
	return &mf, nil
}

// ReadModelFile reads the .henn model at path (see [ReadModel]).
func ReadModelFile(path string) (*ModelFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mf, err := ReadModel(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return mf, nil
}

// LoadModel reads a .henn file and compiles it ([CompileGraph]): the same
// *Model that [NewServer], serve.New and the client use.
func LoadModel(path string, opts Options) (*Model, *ModelFile, error) {
	mf, err := ReadModelFile(path)
	if err != nil {
		return nil, nil, err
	}
	m, err := CompileGraph(mf.Graph, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, mf, nil
}
