package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/approx"
)

// Param is one trainable array with its gradient, both flat so that the
// optimiser and the checkpoint code treat all layers alike.
type Param struct {
	Name  string
	Value []float64
	Grad  []float64
}

func newParam(name string, n int) *Param {
	return &Param{Name: name, Value: make([]float64, n), Grad: make([]float64, n)}
}

// Layer is one stage of a network working on a mini-batch, one sample per row.
type Layer interface {
	// Forward maps a batch (n×in) to its output (n×out), caching what
	// Backward needs.
	Forward(x *mat.Dense) *mat.Dense
	// Backward takes the loss gradient with respect to the last Forward's
	// output, accumulates the parameter gradients and returns the gradient
	// with respect to the input (nil if needDX is false).
	Backward(dy *mat.Dense, needDX bool) *mat.Dense
	Params() []*Param
	Spec() LayerSpec
}

// LayerSpec is the architecture of a layer, as stored in checkpoints.
type LayerSpec struct {
	Type string `json:"type"` // "dense", "conv" or "act"
	In   int    `json:"in"`
	Out  int    `json:"out"`
	// Conv geometry (Type "conv"): input H×W×InC (HWC order), OutC kernels
	// of K×K, stride and zero padding.
	H      int `json:"h,omitempty"`
	W      int `json:"w,omitempty"`
	InC    int `json:"in_c,omitempty"`
	OutC   int `json:"out_c,omitempty"`
	K      int `json:"k,omitempty"`
	Stride int `json:"stride,omitempty"`
	Pad    int `json:"pad,omitempty"`
	// Poly holds the activation polynomial (Type "act"); empty means ReLU.
	Poly []float64 `json:"poly,omitempty"`
}

// sameShape reports whether two specs describe the same parameters.
func (s LayerSpec) sameShape(t LayerSpec) bool {
	return s.Type == t.Type && s.In == t.In && s.Out == t.Out && s.H == t.H && s.W == t.W &&
		s.InC == t.InC && s.OutC == t.OutC && s.K == t.K && s.Stride == t.Stride && s.Pad == t.Pad
}

func (s LayerSpec) String() string {
	switch s.Type {
	case "dense":
		return fmt.Sprintf("dense(%d→%d)", s.In, s.Out)
	case "conv":
		return fmt.Sprintf("conv(%dx%dx%d, %d×%dx%d/%d pad %d)", s.H, s.W, s.InC, s.OutC, s.K, s.K, s.Stride, s.Pad)
	case "act":
		if len(s.Poly) == 0 {
			return "relu"
		}
		return fmt.Sprintf("poly%d", approx.Poly(s.Poly).Degree())
	}
	return s.Type
}

// Dense is a fully connected layer y = x·W + b.
type Dense struct {
	In, Out int
	W, B    *Param // W is In×Out row-major
	x       *mat.Dense
}

// NewDense returns a Dense layer with He-normal weights (He et al. 2015)
// drawn from rng and zero bias.
func NewDense(in, out int, rng *rand.Rand) *Dense {
	d := &Dense{In: in, Out: out, W: newParam("W", in*out), B: newParam("b", out)}
	if rng != nil {
		s := math.Sqrt(2 / float64(in))
		for i := range d.W.Value {
			d.W.Value[i] = s * rng.NormFloat64()
		}
	}
	return d
}

func (d *Dense) wm() *mat.Dense   { return mat.NewDense(d.In, d.Out, d.W.Value) }
func (d *Dense) Params() []*Param { return []*Param{d.W, d.B} }
func (d *Dense) Spec() LayerSpec  { return LayerSpec{Type: "dense", In: d.In, Out: d.Out} }

func (d *Dense) Forward(x *mat.Dense) *mat.Dense {
	d.x = x
	n, _ := x.Dims()
	y := mat.NewDense(n, d.Out, nil)
	y.Mul(x, d.wm())
	addRow(y, d.B.Value)
	return y
}

func (d *Dense) Backward(dy *mat.Dense, needDX bool) *mat.Dense {
	gw := mat.NewDense(d.In, d.Out, d.W.Grad)
	var t mat.Dense
	t.Mul(d.x.T(), dy)
	gw.Add(gw, &t)
	colSumInto(d.B.Grad, dy)
	if !needDX {
		return nil
	}
	n, _ := dy.Dims()
	dx := mat.NewDense(n, d.In, nil)
	dx.Mul(dy, d.wm().T())
	return dx
}

// Conv is a 2-D convolution over HWC images, computed by im2col.
type Conv struct {
	H, W, InC, OutC, K, Stride, Pad int
	OH, OW                          int
	Kern, B                         *Param // Kern is (K·K·InC)×OutC, rows ordered (ky, kx, c)
	cols                            *mat.Dense
	n                               int
}

// NewConv returns a convolution of an h×w×inC image with outC kernels of
// k×k, the given stride and zero padding, He-initialised from rng.
func NewConv(h, w, inC, outC, k, stride, pad int, rng *rand.Rand) (*Conv, error) {
	if h <= 0 || w <= 0 || inC <= 0 || outC <= 0 || k <= 0 || stride <= 0 || pad < 0 {
		return nil, fmt.Errorf("nn: invalid convolution geometry %dx%dx%d, %d kernels %dx%d, stride %d, pad %d", h, w, inC, outC, k, k, stride, pad)
	}
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("nn: %dx%d kernel does not fit a %dx%d image with padding %d", k, k, h, w, pad)
	}
	c := &Conv{H: h, W: w, InC: inC, OutC: outC, K: k, Stride: stride, Pad: pad, OH: oh, OW: ow,
		Kern: newParam("kernel", k*k*inC*outC), B: newParam("b", outC)}
	if rng != nil {
		s := math.Sqrt(2 / float64(k*k*inC))
		for i := range c.Kern.Value {
			c.Kern.Value[i] = s * rng.NormFloat64()
		}
	}
	return c, nil
}

func (c *Conv) km() *mat.Dense   { return mat.NewDense(c.K*c.K*c.InC, c.OutC, c.Kern.Value) }
func (c *Conv) Params() []*Param { return []*Param{c.Kern, c.B} }
func (c *Conv) Spec() LayerSpec {
	return LayerSpec{Type: "conv", In: c.H * c.W * c.InC, Out: c.OH * c.OW * c.OutC,
		H: c.H, W: c.W, InC: c.InC, OutC: c.OutC, K: c.K, Stride: c.Stride, Pad: c.Pad}
}

// src returns the input offset (within one HWC image) read by output
// position (oy, ox) at kernel tap (ky, kx), or -1 for padding.
func (c *Conv) src(oy, ox, ky, kx int) int {
	y, x := oy*c.Stride-c.Pad+ky, ox*c.Stride-c.Pad+kx
	if y < 0 || y >= c.H || x < 0 || x >= c.W {
		return -1
	}
	return (y*c.W + x) * c.InC
}

func (c *Conv) Forward(x *mat.Dense) *mat.Dense {
	n, _ := x.Dims()
	kk := c.K * c.K * c.InC
	p := c.OH * c.OW
	cols := mat.NewDense(n*p, kk, nil)
	cd := cols.RawMatrix().Data
	for s := 0; s < n; s++ {
		img := x.RawRowView(s)
		for oy := 0; oy < c.OH; oy++ {
			for ox := 0; ox < c.OW; ox++ {
				row := cd[((s*p)+oy*c.OW+ox)*kk:][:kk]
				for ky := 0; ky < c.K; ky++ {
					for kx := 0; kx < c.K; kx++ {
						if o := c.src(oy, ox, ky, kx); o >= 0 {
							copy(row[(ky*c.K+kx)*c.InC:][:c.InC], img[o:o+c.InC])
						}
					}
				}
			}
		}
	}
	c.cols, c.n = cols, n
	y := mat.NewDense(n*p, c.OutC, nil)
	y.Mul(cols, c.km())
	addRow(y, c.B.Value)
	// Rows (sample, position) × channels are, in memory, exactly one HWC
	// output image per sample.
	return mat.NewDense(n, p*c.OutC, y.RawMatrix().Data)
}

func (c *Conv) Backward(dy *mat.Dense, needDX bool) *mat.Dense {
	p := c.OH * c.OW
	dy = contiguous(dy)
	d2 := mat.NewDense(c.n*p, c.OutC, dy.RawMatrix().Data)
	gk := mat.NewDense(c.K*c.K*c.InC, c.OutC, c.Kern.Grad)
	var t mat.Dense
	t.Mul(c.cols.T(), d2)
	gk.Add(gk, &t)
	colSumInto(c.B.Grad, d2)
	if !needDX {
		return nil
	}
	kk := c.K * c.K * c.InC
	dcols := mat.NewDense(c.n*p, kk, nil)
	dcols.Mul(d2, c.km().T())
	dd := dcols.RawMatrix().Data
	dx := mat.NewDense(c.n, c.H*c.W*c.InC, nil)
	for s := 0; s < c.n; s++ {
		img := dx.RawRowView(s)
		for oy := 0; oy < c.OH; oy++ {
			for ox := 0; ox < c.OW; ox++ {
				row := dd[((s*p)+oy*c.OW+ox)*kk:][:kk]
				for ky := 0; ky < c.K; ky++ {
					for kx := 0; kx < c.K; kx++ {
						if o := c.src(oy, ox, ky, kx); o >= 0 {
							for ch := 0; ch < c.InC; ch++ {
								img[o+ch] += row[(ky*c.K+kx)*c.InC+ch]
							}
						}
					}
				}
			}
		}
	}
	return dx
}

// Matrix returns the convolution as the equivalent dense map y = x·M + b
// (M is In×Out), for encrypted evaluation as a packed linear map.
func (c *Conv) Matrix() (m *mat.Dense, b []float64) {
	in, out := c.H*c.W*c.InC, c.OH*c.OW*c.OutC
	m = mat.NewDense(in, out, nil)
	b = make([]float64, out)
	for oy := 0; oy < c.OH; oy++ {
		for ox := 0; ox < c.OW; ox++ {
			pos := oy*c.OW + ox
			for oc := 0; oc < c.OutC; oc++ {
				col := pos*c.OutC + oc
				b[col] = c.B.Value[oc]
				for ky := 0; ky < c.K; ky++ {
					for kx := 0; kx < c.K; kx++ {
						o := c.src(oy, ox, ky, kx)
						if o < 0 {
							continue
						}
						for ch := 0; ch < c.InC; ch++ {
							m.Set(o+ch, col, c.Kern.Value[((ky*c.K+kx)*c.InC+ch)*c.OutC+oc])
						}
					}
				}
			}
		}
	}
	return m, b
}

// Act is an element-wise activation: ReLU when Poly is nil, else the
// polynomial Poly.
type Act struct {
	Dim  int
	Poly approx.Poly
	// Hook, when set, is called by Forward with the pre-activations of the
	// batch (for calibration). It must not keep or modify the matrix.
	Hook func(pre *mat.Dense)
	x    *mat.Dense
}

// NewAct returns an activation layer of width dim: ReLU if p is nil, else p.
func NewAct(dim int, p approx.Poly) *Act { return &Act{Dim: dim, Poly: p} }

func (a *Act) Params() []*Param { return nil }
func (a *Act) Spec() LayerSpec {
	return LayerSpec{Type: "act", In: a.Dim, Out: a.Dim, Poly: append([]float64(nil), a.Poly...)}
}

// Name is "relu" or "polyD".
func (a *Act) Name() string { return a.Spec().String() }

func (a *Act) f(v float64) float64 {
	if a.Poly == nil {
		return math.Max(v, 0)
	}
	return a.Poly.Eval(v)
}

func (a *Act) df(v float64) float64 {
	if a.Poly == nil {
		if v > 0 {
			return 1
		}
		return 0
	}
	return a.Poly.Deriv(v)
}

func (a *Act) Forward(x *mat.Dense) *mat.Dense {
	x = contiguous(x)
	if a.Hook != nil {
		a.Hook(x)
	}
	a.x = x
	n, m := x.Dims()
	xd := x.RawMatrix().Data
	y := make([]float64, len(xd))
	for i, v := range xd {
		y[i] = a.f(v)
	}
	return mat.NewDense(n, m, y)
}

func (a *Act) Backward(dy *mat.Dense, needDX bool) *mat.Dense {
	if !needDX {
		return nil
	}
	dy = contiguous(dy)
	n, m := dy.Dims()
	xd, gd := a.x.RawMatrix().Data, dy.RawMatrix().Data
	dx := make([]float64, len(xd))
	for i, v := range xd {
		dx[i] = gd[i] * a.df(v)
	}
	return mat.NewDense(n, m, dx)
}

// contiguous returns x itself if its rows are packed, else a packed copy.
func contiguous(x *mat.Dense) *mat.Dense {
	r := x.RawMatrix()
	if r.Stride == r.Cols {
		return x
	}
	return mat.DenseCopyOf(x)
}

func addRow(y *mat.Dense, b []float64) {
	n, _ := y.Dims()
	for i := 0; i < n; i++ {
		row := y.RawRowView(i)
		for j, v := range b {
			row[j] += v
		}
	}
}

func colSumInto(g []float64, dy *mat.Dense) {
	n, _ := dy.Dims()
	for i := 0; i < n; i++ {
		for j, v := range dy.RawRowView(i) {
			g[j] += v
		}
	}
}
