package graph

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"slices"
)

func init() {
	ops["Gemm"] = opGemm
	ops["MatMul"] = opMatMul
	ops["Conv"] = opConv
}

// gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// through gonum's BLAS.
func gemm(tA, tB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, cm []float64, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	ar, ac := m, k
	if tA {
		ta, ar, ac = blas.Trans, k, m
	}
	br, bc := k, n
	if tB {
		tb, br, bc = blas.Trans, n, k
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				cm[i*ldc+j] *= beta
			}
		}
		return
	}
	blas64.Gemm(ta, tb, alpha,
		blas64.General{Rows: ar, Cols: ac, Stride: lda, Data: a},
		blas64.General{Rows: br, Cols: bc, Stride: ldb, Data: b},
		beta, blas64.General{Rows: m, Cols: n, Stride: ldc, Data: cm})
}

// opGemm is ONNX Gemm: Y = alpha·A'·B' + beta·C with A', B' optionally
// transposed and C broadcast unidirectionally to (M, N).
func opGemm(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	if a.Rank() != 2 || b.Rank() != 2 {
		return nil, c.errf("A and B must be matrices, got shapes %v and %v", a.Shape, b.Shape)
	}
	tA, tB := c.n.AttrInt("transA", 0) != 0, c.n.AttrInt("transB", 0) != 0
	alpha, beta := c.n.AttrFloat("alpha", 1), c.n.AttrFloat("beta", 1)
	m, k := a.Shape[0], a.Shape[1]
	if tA {
		m, k = k, m
	}
	k2, n := b.Shape[0], b.Shape[1]
	if tB {
		k2, n = n, k2
	}
	if k != k2 {
		return nil, c.errf("inner dimensions differ: A %v (transA=%v), B %v (transB=%v)", a.Shape, tA, b.Shape, tB)
	}
	y := Zeros(m, n)
	if len(in) > 2 && in[2] != nil && beta != 0 {
		cT := in[2]
		if cT.Rank() > 2 {
			return nil, c.errf("C has rank %d, at most 2 allowed", cT.Rank())
		}
		out, err := broadcastShape(cT.Shape, y.Shape)
		if err != nil || !slices.Equal(out, y.Shape) {
			return nil, c.errf("C of shape %v does not broadcast to %v", cT.Shape, y.Shape)
		}
		idx := broadcastIndex(cT.Shape, y.Shape)
		for i := range y.Data {
			if idx == nil {
				y.Data[i] = cT.Data[i]
			} else {
				y.Data[i] = cT.Data[idx[i]]
			}
		}
	} else {
		beta = 0
	}
	gemm(tA, tB, m, n, k, alpha, a.Data, a.Shape[1], b.Data, b.Shape[1], beta, y.Data, n)
	return one(y), nil
}

// opMatMul is ONNX MatMul with NumPy semantics: 1-D operands are promoted
// and the promoted dimension removed; leading dimensions broadcast.
func opMatMul(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	a, b := in[0], in[1]
	mm, err := matMulDims(c, a.Shape, b.Shape)
	if err != nil {
		return nil, err
	}
	m, k, n, batch := mm.m, mm.k, mm.n, mm.batch
	as, bs := mm.as, mm.bs
	nb := 1
	for _, d := range batch {
		nb *= d
	}
	ia, ib := broadcastIndex(as[:len(as)-2], batch), broadcastIndex(bs[:len(bs)-2], batch)
	outShape := append(append([]int(nil), batch...), m, n)
	size, err := ShapeSize(outShape)
	if err != nil {
		return nil, c.errf("%v", err)
	}
	y := make([]float64, size)
	for i := 0; i < nb; i++ {
		ai, bi := i, i
		if ia != nil {
			ai = ia[i]
		}
		if ib != nil {
			bi = ib[i]
		}
		gemm(false, false, m, n, k, 1, a.Data[ai*m*k:(ai+1)*m*k], k, b.Data[bi*k*n:(bi+1)*k*n], n, 0, y[i*m*n:(i+1)*m*n], n)
	}
	return one(&Tensor{Shape: mm.out, Data: y}), nil
}

// matMulShape is MatMul's geometry: the operands promoted to rank ≥ 2 (as,
// bs), each product m×k by k×n, the broadcast batch, and the output shape
// with a promoted dimension removed again. Shape inference and the runtime
// both use it.
type matMulShape struct {
	as, bs, batch, out []int
	m, k, n            int
}

func matMulDims(c *ctx, a, b []int) (*matMulShape, error) {
	if len(a) == 0 || len(b) == 0 {
		return nil, c.errf("operands must have rank ≥ 1, got shapes %v and %v", a, b)
	}
	as, bs := a, b
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		return nil, c.errf("inner dimensions differ: %v × %v", a, b)
	}
	batch, err := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, c.errf("batch dimensions of %v and %v do not broadcast", a, b)
	}
	out := append([]int(nil), batch...)
	if len(a) > 1 {
		out = append(out, m)
	}
	if len(b) > 1 {
		out = append(out, n)
	}
	return &matMulShape{as: as, bs: bs, batch: batch, out: out, m: m, k: k, n: n}, nil
}

// spatial holds a resolved sliding-window geometry for Conv and pooling.
type spatial struct {
	in, k, stride, dil, padB, padE, out []int
}

// window resolves kernel, strides, dilations, pads and auto_pad for the
// spatial dims in (ONNX Conv/AveragePool attribute semantics). ceil
// selects ceil_mode output sizing.
func (c *ctx) window(in, kernel []int, ceil bool) (*spatial, error) {
	r := len(in)
	s := &spatial{in: in, k: kernel, stride: make([]int, r), dil: make([]int, r), padB: make([]int, r), padE: make([]int, r), out: make([]int, r)}
	if len(kernel) != r {
		return nil, c.errf("kernel_shape %v does not match %d spatial dimensions", kernel, r)
	}
	st, dl, pd := c.n.AttrInts("strides"), c.n.AttrInts("dilations"), c.n.AttrInts("pads")
	for i := 0; i < r; i++ {
		s.stride[i], s.dil[i] = 1, 1
		if st != nil {
			if len(st) != r {
				return nil, c.errf("strides %v must have %d entries", st, r)
			}
			s.stride[i] = int(st[i])
		}
		if dl != nil {
			if len(dl) != r {
				return nil, c.errf("dilations %v must have %d entries", dl, r)
			}
			s.dil[i] = int(dl[i])
		}
		if pd != nil {
			if len(pd) != 2*r {
				return nil, c.errf("pads %v must have %d entries", pd, 2*r)
			}
			s.padB[i], s.padE[i] = int(pd[i]), int(pd[i+r])
		}
		if s.stride[i] < 1 || s.dil[i] < 1 || kernel[i] < 1 || s.padB[i] < 0 || s.padE[i] < 0 {
			return nil, c.errf("kernel %v, strides %v, dilations %v and pads %v must be positive (pads non-negative)", kernel, st, dl, pd)
		}
	}
	autoPad := c.n.AttrString("auto_pad", "NOTSET")
	for i := 0; i < r; i++ {
		ext := (kernel[i]-1)*s.dil[i] + 1
		switch autoPad {
		case "NOTSET", "":
			num := in[i] + s.padB[i] + s.padE[i] - ext
			if num < 0 {
				return nil, c.errf("kernel %v (dilated) is larger than the padded input %v", kernel, in)
			}
			if ceil {
				s.out[i] = (num+s.stride[i]-1)/s.stride[i] + 1
				// The last window must start inside the input or the
				// leading pad (PyTorch and ONNX reference semantics).
				if (s.out[i]-1)*s.stride[i] >= in[i]+s.padB[i] {
					s.out[i]--
				}
			} else {
				s.out[i] = num/s.stride[i] + 1
			}
		case "VALID":
			s.padB[i], s.padE[i] = 0, 0
			num := in[i] - ext
			if num < 0 {
				return nil, c.errf("kernel %v (dilated) is larger than the input %v", kernel, in)
			}
			if ceil {
				s.out[i] = (num+s.stride[i]-1)/s.stride[i] + 1
			} else {
				s.out[i] = num/s.stride[i] + 1
			}
		case "SAME_UPPER", "SAME_LOWER":
			s.out[i] = (in[i] + s.stride[i] - 1) / s.stride[i]
			total := max(0, (s.out[i]-1)*s.stride[i]+ext-in[i])
			if autoPad == "SAME_UPPER" {
				s.padB[i], s.padE[i] = total/2, total-total/2
			} else {
				s.padB[i], s.padE[i] = total-total/2, total/2
			}
		default:
			return nil, c.errf("auto_pad must be NOTSET, VALID, SAME_UPPER or SAME_LOWER, got %q", autoPad)
		}
	}
	return s, nil
}

// opConv is ONNX Conv over 1, 2 or more spatial dims with groups
// (depthwise when group = C). Each group is an im2col matrix multiplied
// by the group's filters through BLAS.
func opConv(c *ctx, in []*Tensor) ([]*Tensor, error) {
	if err := c.need(in, 2); err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	if x.Rank() < 3 {
		return nil, c.errf("input must be (N, C, spatial…), got shape %v", x.Shape)
	}
	if w.Rank() != x.Rank() {
		return nil, c.errf("weight shape %v does not match input shape %v", w.Shape, x.Shape)
	}
	group := int(c.n.AttrInt("group", 1))
	nb, ch := x.Shape[0], x.Shape[1]
	m, cg := w.Shape[0], w.Shape[1]
	if group < 1 || ch%group != 0 || m%group != 0 || cg != ch/group {
		return nil, c.errf("group %d inconsistent with input channels %d and weight shape %v", group, ch, w.Shape)
	}
	kernel := w.Shape[2:]
	if ks := c.n.AttrInts("kernel_shape"); ks != nil {
		if !slices.Equal(int64s(ks), kernel) {
			return nil, c.errf("kernel_shape %v differs from weight shape %v", ks, w.Shape)
		}
	}
	sp, err := c.window(x.Shape[2:], kernel, false)
	if err != nil {
		return nil, err
	}
	if len(sp.in) > 2 {
		return convND(c, x, w, in, sp, group)
	}
	// Treat 1-D as 2-D with height 1.
	get2 := func(v []int, def int) (int, int) {
		if len(v) == 1 {
			return def, v[0]
		}
		return v[0], v[1]
	}
	ih, iw := get2(sp.in, 1)
	kh, kw := get2(sp.k, 1)
	sh, sw := get2(sp.stride, 1)
	dh, dw := get2(sp.dil, 1)
	ph, pw := get2(sp.padB, 0)
	oh, ow := get2(sp.out, 1)
	bias, y, err := c.convOutput(in, nb, m, sp)
	if err != nil {
		return nil, err
	}
	mg := m / group
	kk := cg * kh * kw
	opix := oh * ow
	col := make([]float64, kk*opix)
	for b := 0; b < nb; b++ {
		for g := 0; g < group; g++ {
			// im2col: row (ci, i, j), column (oy, ox).
			for ci := 0; ci < cg; ci++ {
				src := x.Data[((b*ch)+g*cg+ci)*ih*iw:]
				for i := 0; i < kh; i++ {
					for j := 0; j < kw; j++ {
						row := col[((ci*kh+i)*kw+j)*opix:]
						for oy := 0; oy < oh; oy++ {
							yy := oy*sh - ph + i*dh
							for ox := 0; ox < ow; ox++ {
								xx := ox*sw - pw + j*dw
								v := 0.0
								if yy >= 0 && yy < ih && xx >= 0 && xx < iw {
									v = src[yy*iw+xx]
								}
								row[oy*ow+ox] = v
							}
						}
					}
				}
			}
			convGroup(y.Data, bias, w.Data, col, b, g, m, mg, kk, opix)
		}
	}
	return one(y), nil
}

// convND is Conv for three or more spatial dims: the same im2col + GEMM
// per group, with multi-index loops.
func convND(c *ctx, x, w *Tensor, in []*Tensor, sp *spatial, group int) ([]*Tensor, error) {
	nb, ch, m, cg := x.Shape[0], x.Shape[1], w.Shape[0], w.Shape[1]
	r := len(sp.in)
	bias, y, err := c.convOutput(in, nb, m, sp)
	if err != nil {
		return nil, err
	}
	ipix, kpix, opix := 1, 1, 1
	for i := 0; i < r; i++ {
		ipix *= sp.in[i]
		kpix *= sp.k[i]
		opix *= sp.out[i]
	}
	inStr := strides(sp.in)
	mg, kk := m/group, cg*kpix
	col := make([]float64, kk*opix)
	kc, oc := make([]int, r), make([]int, r)
	next := func(coord, lim []int) {
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < lim[d] {
				return
			}
			coord[d] = 0
		}
	}
	for b := 0; b < nb; b++ {
		for g := 0; g < group; g++ {
			for ci := 0; ci < cg; ci++ {
				src := x.Data[(b*ch+g*cg+ci)*ipix:]
				clear(kc)
				for kp := 0; kp < kpix; kp++ {
					row := col[(ci*kpix+kp)*opix:]
					clear(oc)
					for op := 0; op < opix; op++ {
						off, ok := 0, true
						for d := 0; d < r; d++ {
							pos := oc[d]*sp.stride[d] - sp.padB[d] + kc[d]*sp.dil[d]
							if pos < 0 || pos >= sp.in[d] {
								ok = false
								break
							}
							off += pos * inStr[d]
						}
						if ok {
							row[op] = src[off]
						} else {
							row[op] = 0
						}
						next(oc, sp.out)
					}
					next(kc, sp.k)
				}
			}
			convGroup(y.Data, bias, w.Data, col, b, g, m, mg, kk, opix)
		}
	}
	return one(y), nil
}

// convOutput checks Conv's optional bias and allocates the output.
func (c *ctx) convOutput(in []*Tensor, nb, m int, sp *spatial) ([]float64, *Tensor, error) {
	var bias []float64
	if len(in) > 2 && in[2] != nil {
		if in[2].Rank() != 1 || in[2].Shape[0] != m {
			return nil, nil, c.errf("bias shape %v, want [%d]", in[2].Shape, m)
		}
		bias = in[2].Data
	}
	outShape := append([]int{nb, m}, sp.out...)
	size, err := ShapeSize(outShape)
	if err != nil {
		return nil, nil, c.errf("%v", err)
	}
	return bias, &Tensor{Shape: outShape, Data: make([]float64, size)}, nil
}

// convGroup computes one (batch b, group g) block of a convolution: the
// group's mg filters (mg × kk) times the im2col matrix (kk × opix), plus
// the bias.
func convGroup(y, bias, w, col []float64, b, g, m, mg, kk, opix int) {
	dst := y[(b*m+g*mg)*opix : (b*m+(g+1)*mg)*opix]
	if bias != nil {
		for o := 0; o < mg; o++ {
			for p := 0; p < opix; p++ {
				dst[o*opix+p] = bias[g*mg+o]
			}
		}
	}
	gemm(false, false, mg, opix, kk, 1, w[g*mg*kk:(g+1)*mg*kk], kk, col, opix, 1, dst, opix)
}
