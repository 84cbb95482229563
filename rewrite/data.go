package rewrite

import (
	"fmt"
	"math"
	"strings"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/mnist"
	"github.com/krelu/krelu/npy"
)

// SourceHelp describes the input sources LoadInputs reads.
const SourceHelp = "mnist:train, mnist:test, fashion:train, fashion:test, an .npy file (N×input shape) or an IDX image file (…-images-idx3-ubyte[.gz], pixels/255)"

// LoadInputs reads up to limit inputs (0: all) from spec (see SourceHelp)
// in the model input shape (the leading batch dimension of 1 included),
// and their labels when the source has them (nil otherwise). NaN or
// infinite values, and inputs whose size does not match, are errors.
func LoadInputs(spec string, shape []int, limit int) ([]*graph.Tensor, []int, error) {
	per := 1
	for _, d := range shape {
		per *= d
	}
	var data []float64
	var labels []int
	var n int
	switch {
	case strings.HasPrefix(spec, "mnist:") || strings.HasPrefix(spec, "fashion:"):
		task, split, _ := strings.Cut(spec, ":")
		if split != "train" && split != "test" {
			return nil, nil, fmt.Errorf("source %q: want %s:train or %s:test", spec, task, task)
		}
		t, err := mnist.ParseTask(task)
		if err != nil {
			return nil, nil, err
		}
		set, err := mnist.Load(t, "", split == "train")
		if err != nil {
			return nil, nil, err
		}
		n = set.Len()
		if limit > 0 {
			n = min(n, limit)
		}
		if per != mnist.Pixels {
			return nil, nil, fmt.Errorf("source %q holds 28×28 images, the model takes shape %v", spec, shape)
		}
		data = make([]float64, 0, n*per)
		for i := 0; i < n; i++ {
			data = append(data, set.X.RawRowView(i)...)
		}
		labels = set.Y[:n]
	case strings.HasSuffix(spec, ".npy"):
		d, s, err := npy.ReadFile(spec)
		if err != nil {
			return nil, nil, err
		}
		if len(s) == 0 || s[0] == 0 {
			return nil, nil, fmt.Errorf("%s: array of shape %v holds no inputs", spec, s)
		}
		rest := 1
		for _, x := range s[1:] {
			rest *= x
		}
		if rest != per {
			return nil, nil, fmt.Errorf("%s: array of shape %v; the model takes inputs of shape %v (want N×%s)", spec, s, shape, dims(shape[1:]))
		}
		n = s[0]
		if limit > 0 {
			n = min(n, limit)
		}
		data = d[:n*per]
	case strings.Contains(spec, "idx3-ubyte"):
		idx, err := mnist.ReadIDXFile(spec)
		if err != nil {
			return nil, nil, err
		}
		if len(idx.Dims) < 2 {
			return nil, nil, fmt.Errorf("%s: IDX array of dimensions %v is not a set of images", spec, idx.Dims)
		}
		if len(idx.Data)/idx.Dims[0] != per {
			return nil, nil, fmt.Errorf("%s: images of dimensions %v, the model takes shape %v", spec, idx.Dims[1:], shape)
		}
		n = idx.Dims[0]
		if limit > 0 {
			n = min(n, limit)
		}
		data = make([]float64, n*per)
		for i := range data {
			data[i] = float64(idx.Data[i]) / 255
		}
	default:
		return nil, nil, fmt.Errorf("unknown input source %q (want %s)", spec, SourceHelp)
	}
	out := make([]*graph.Tensor, n)
	for i := range out {
		x := data[i*per : (i+1)*per]
		for _, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, fmt.Errorf("%s: input %d contains NaN or infinite values", spec, i)
			}
		}
		out[i] = &graph.Tensor{Shape: append([]int(nil), shape...), Data: append([]float64(nil), x...)}
	}
	return out, labels, nil
}

// LoadLabels reads integer class labels from an .npy file.
func LoadLabels(path string) ([]int, error) {
	d, s, err := npy.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(s) != 1 {
		return nil, fmt.Errorf("%s: labels of shape %v, want a vector", path, s)
	}
	out := make([]int, len(d))
	for i, v := range d {
		if v != math.Trunc(v) || v < 0 || v > 1<<20 {
			return nil, fmt.Errorf("%s: label %d is %g, not a class index", path, i, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

func dims(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}
