package mnist

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/internal/shareddata"
)

// Image geometry shared by MNIST and Fashion-MNIST.
const (
	Rows   = 28
	Cols   = 28
	Pixels = Rows * Cols
	// TrainImages and TestImages are the sizes of both tasks' sets.
	TrainImages = 60000
	TestImages  = 10000
	Classes     = 10
)

// Set is a labelled image set: one image per row of X, pixels in [0, 1].
type Set struct {
	X *mat.Dense
	Y []int
}

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Y) }

// Slice returns images [i, j) sharing storage with s.
func (s *Set) Slice(i, j int) *Set {
	return &Set{X: s.X.Slice(i, j, 0, s.X.RawMatrix().Cols).(*mat.Dense), Y: s.Y[i:j]}
}

// NewSet builds a Set from images, after checking that every image has
// Pixels values and every label is a class in [0, Classes).
func NewSet(x *mat.Dense, y []int) (*Set, error) {
	r, c := x.Dims()
	if c != Pixels {
		return nil, fmt.Errorf("mnist: images have %d values, want %d (28×28)", c, Pixels)
	}
	if r != len(y) {
		return nil, fmt.Errorf("mnist: %d images but %d labels", r, len(y))
	}
	for i, l := range y {
		if l < 0 || l >= Classes {
			return nil, fmt.Errorf("mnist: label %d of image %d out of range [0, %d)", l, i, Classes)
		}
	}
	return &Set{X: x, Y: y}, nil
}

// FromIDX converts an image array (n×28×28) and a label array (n) to a Set.
func FromIDX(images, labels *IDX) (*Set, error) {
	if len(images.Dims) != 3 || images.Dims[1] != Rows || images.Dims[2] != Cols {
		return nil, fmt.Errorf("mnist: image array has dimensions %v, want [n 28 28]", images.Dims)
	}
	if len(labels.Dims) != 1 {
		return nil, fmt.Errorf("mnist: label array has dimensions %v, want [n]", labels.Dims)
	}
	n := images.Dims[0]
	if labels.Dims[0] != n {
		return nil, fmt.Errorf("mnist: %d images but %d labels", n, labels.Dims[0])
	}
	x := make([]float64, len(images.Data))
	for i, b := range images.Data {
		x[i] = float64(b) / 255
	}
	y := make([]int, n)
	for i, b := range labels.Data {
		y[i] = int(b)
	}
	return NewSet(mat.NewDense(n, Pixels, x), y)
}

// Preprocess names how Load turns the IDX bytes into model inputs; models
// record it (nn.Network.Preprocess) so that they are never fed data
// prepared another way.
const Preprocess = "pixel bytes / 255, row-major"

// InputShape is the shape of one image as models see it.
var InputShape = []int{Rows, Cols}

// Task names a dataset.
type Task string

// The supported tasks.
const (
	MNIST   Task = "mnist"
	Fashion Task = "fashion"
)

// ParseTask checks a task name.
func ParseTask(s string) (Task, error) {
	switch Task(s) {
	case MNIST, Fashion:
		return Task(s), nil
	}
	return "", fmt.Errorf("mnist: unknown task %q (want mnist or fashion)", s)
}

// Dir returns the folder holding the task's IDX files.
func (t Task) Dir() (string, error) {
	switch t {
	case MNIST:
		return shareddata.MNIST()
	case Fashion:
		return shareddata.FashionMNIST()
	}
	return "", fmt.Errorf("mnist: unknown task %q", string(t))
}

// Load reads the training set (train=true, 60,000 images) or the test set
// (10,000 images) of the task from dir; dir "" means the task's default
// folder. Both datasets use the original LeCun file names.
func Load(t Task, dir string, train bool) (*Set, error) {
	if dir == "" {
		var err error
		if dir, err = t.Dir(); err != nil {
			return nil, err
		}
	}
	prefix := "t10k"
	if train {
		prefix = "train"
	}
	im, err := ReadIDXFile(filepath.Join(dir, prefix+"-images-idx3-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	lb, err := ReadIDXFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte.gz"))
	if err != nil {
		return nil, err
	}
	s, err := FromIDX(im, lb)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", t, prefix, err)
	}
	return s, nil
}
