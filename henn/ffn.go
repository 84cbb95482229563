package henn

import (
	"errors"
	"fmt"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// ffnPlan is an FFNBlock laid out for the Tokens packing. W2, the mean
// pooling and the classifier are linear, so they collapse into one
// masked product per class: logits_k = Σ_t Σ_u A[k][u]·h_t[u]/T +
// Σ_t Σ_f R[k][f]·x_t[f]/T + c_k, with h_t = (W1·x_t + b1 + shift)² the only
// nonlinear part. That saves W2's rotations and one level: depth 3 (W1,
// square, masks).
type ffnPlan struct {
	dim, hidden, classes int
	blocks               []*diagMap // W1 in F×F blocks of hidden units
	A                    [][]float64
	R                    [][]float64 // nil without residual
	c                    []float64
}

const ffnDepth = 3

// CompileFFN checks b and lays it out one sentence per ciphertext: feature
// f of token t in slot f·S+t, with S = slots/pow2(Dim) ≥ MaxTokens.
func CompileFFN(b FFNBlock, opts Options) (*Model, error) {
	hidden, classes, err := b.Validate()
	if err != nil {
		return nil, err
	}
	if opts.MaxTokens == 0 {
		opts.MaxTokens = 64
	}
	if opts.MaxTokens < 0 {
		return nil, fmt.Errorf("henn: MaxTokens %d, want > 0", opts.MaxTokens)
	}
	F := pow2(b.Dim)
	choice, err := ChooseParams(ffnDepth, F*pow2(opts.MaxTokens), opts.LogN)
	if err != nil {
		return nil, fmt.Errorf("%w (FFN block: W1, square, pooled classifier)", err)
	}
	n := choice.Params.MaxSlots()
	opts.Mode = Tokens
	m := &Model{opts: opts, preset: choice.Preset}
	m.layout = Layout{Mode: Tokens, Params: choice.Params, InputDim: b.Dim, OutputDim: classes, Level: ffnDepth,
		Block: F, Stride: n / F, InPeriod: F, OutPeriod: 1}

	c0, c1, c2 := b.Act.Coeffs[0], b.Act.Coeffs[1], b.Act.Coeffs[2]
	shift := c1 / (2 * c2)
	e := c0 - c1*c1/(4*c2)
	p := &ffnPlan{dim: b.Dim, hidden: hidden, classes: classes}
	for start := 0; start < hidden; start += F {
		a := &affine{w: make([][]float64, F), b: make([]float64, F), in: b.Dim, out: F}
		for i := range a.w {
			a.w[i] = make([]float64, b.Dim)
			if u := start + i; u < hidden {
				copy(a.w[i], b.W1.W[u])
				if b.W1.B != nil {
					a.b[i] = b.W1.B[u]
				}
				a.b[i] += shift
			}
		}
		p.blocks = append(p.blocks, newDiagMap(a, F))
	}
	// A = c2·C·W2, R = C, c = C·(e·W2·1 + b2) + bc.
	C := b.Classifier
	p.A = make([][]float64, classes)
	p.c = make([]float64, classes)
	if b.Residual {
		p.R = C.W
	}
	for k := range classes {
		p.A[k] = make([]float64, hidden)
		for f := 0; f < b.Dim; f++ {
			ck := C.W[k][f]
			if ck == 0 {
				continue
			}
			z := 0.0
			for u := 0; u < hidden; u++ {
				p.A[k][u] += c2 * ck * b.W2.W[f][u]
				z += e * b.W2.W[f][u]
			}
			if b.W2.B != nil {
				z += b.W2.B[f]
			}
			p.c[k] += ck * z
		}
		if C.B != nil {
			p.c[k] += C.B[k]
		}
	}
	m.ffn = p
	return m, nil
}

func (p *ffnPlan) rotations(S int) []int {
	var r []int
	for _, d := range p.blocks {
		for _, k := range d.rotations() {
			r = append(r, k*S)
		}
	}
	// Rotate-and-add over all slots sums the masked products.
	for s := 1; s < S*p.blocks[0].pa; s <<= 1 {
		r = append(r, s)
	}
	return r
}

type ffnServer struct {
	s      *Server
	p      *ffnPlan
	blocks []*packedLinear
	babies []int // union of the blocks' baby rotations (slots)
	// scales
	sqScale  rlwe.Scale // scale of the squares (level 1)
	accScale rlwe.Scale // Δ·q_1: scale of the masked sums before the rescale
}

func newFFNServer(s *Server, p *ffnPlan) (*ffnServer, error) {
	params := s.params
	L := s.m.layout.Level
	S := s.m.layout.Stride
	delta := params.DefaultScale()
	q := func(l int) rlwe.Scale { return rlwe.NewScale(params.Q()[l]) }
	f := &ffnServer{s: s, p: p}
	set := map[int]bool{}
	for _, d := range p.blocks {
		pl, err := s.encodeDiagonals(d, L, delta.Mul(q(L)).Div(delta))
		if err != nil {
			return nil, err
		}
		f.blocks = append(f.blocks, pl)
		for _, b := range d.babies {
			set[b*S] = true
		}
	}
	f.babies = sortedKeys(set)
	f.sqScale = delta.Mul(delta).Div(q(L - 1))
	f.accScale = delta.Mul(q(L - 2))
	return f, nil
}

func (f *ffnServer) eval(x *rlwe.Ciphertext, length int) ([]*rlwe.Ciphertext, error) {
	s := f.s
	lay := s.m.layout
	L, S, F := lay.Level, lay.Stride, lay.Block
	x = s.atLevel(x, L)
	babies, err := s.rotateMany(x, f.babies)
	if err != nil {
		return nil, fmt.Errorf("baby steps: %w", err)
	}
	h := make([]*rlwe.Ciphertext, len(f.blocks))
	for c, pl := range f.blocks {
		u, err := s.giantSteps(pl.giants, func(r int) *rlwe.Ciphertext { return babies[r] })
		if err != nil {
			return nil, fmt.Errorf("W1 block %d: %w", c, err)
		}
		if err := s.eval.Rescale(u, u); err != nil {
			return nil, err
		}
		u.Scale = s.params.DefaultScale()
		if pl.bias != nil {
			if err := s.eval.Add(u, pl.bias, u); err != nil {
				return nil, fmt.Errorf("W1 bias: %w", err)
			}
		}
		sq, err := s.square(u, serverStage{outScale: f.sqScale})
		if err != nil {
			return nil, err
		}
		h[c] = sq
	}
	xl := s.atLevel(x, L-2)
	inv := 1 / float64(length)
	out := make([]*rlwe.Ciphertext, f.p.classes)
	var fe firstError
	parallel(f.p.classes, s.workers, func(k int) {
		mask := func(w []float64, off int) []float64 {
			v := make([]float64, F*S)
			for i := 0; i < F && off+i < len(w); i++ {
				if w[off+i] == 0 {
					continue
				}
				for t := 0; t < length; t++ {
					v[i*S+t] = w[off+i] * inv
				}
			}
			return v
		}
		var acc *rlwe.Ciphertext
		add := func(ct *rlwe.Ciphertext, w []float64, off int) error {
			pt, err := he.Encode(s.params, mask(w, off), L-2, f.accScale.Div(ct.Scale))
			if err != nil {
				return err
			}
			if acc == nil {
				acc, err = s.eval.MulNew(ct, pt)
				return err
			}
			return s.eval.MulThenAdd(ct, pt, acc)
		}
		for c := range h {
			if err := add(h[c], f.p.A[k], c*F); err != nil {
				fe.set(err)
				return
			}
		}
		if f.p.R != nil {
			if err := add(xl, f.p.R[k], 0); err != nil {
				fe.set(err)
				return
			}
		}
		if err := s.eval.Rescale(acc, acc); err != nil {
			fe.set(err)
			return
		}
		acc.Scale = s.params.DefaultScale()
		for r := 1; r < F*S; r <<= 1 {
			rot, err := s.eval.RotateNew(acc, r)
			if err != nil {
				fe.set(err)
				return
			}
			if err := s.eval.Add(acc, rot, acc); err != nil {
				fe.set(err)
				return
			}
		}
		if err := s.eval.Add(acc, f.p.c[k], acc); err != nil {
			fe.set(err)
			return
		}
		out[k] = acc
	})
	if fe.err != nil {
		return nil, fe.err
	}
	return out, nil
}

// EncryptSentences encrypts sentences (each a list of l.InputDim-feature
// token vectors) in the Tokens layout, one ciphertext per sentence.
func (c *Client) EncryptSentences(l Layout, sentences [][][]float64) (*Ciphertexts, error) {
	if err := c.checkLayout(l); err != nil {
		return nil, err
	}
	if l.Mode != Tokens {
		return nil, fmt.Errorf("henn: EncryptSentences needs a Tokens layout, not %v", l.Mode)
	}
	if len(sentences) == 0 {
		return nil, errors.New("henn: no sentences to encrypt")
	}
	out := &Ciphertexts{}
	for i, toks := range sentences {
		if err := checkTokens(toks, l.InputDim, l.Stride); err != nil {
			return nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		v := make([]float64, l.Block*l.Stride)
		for t, x := range toks {
			for f, xv := range x {
				v[f*l.Stride+t] = xv
			}
		}
		ct, err := c.owner.Encrypt(v, l.Level)
		if err != nil {
			return nil, err
		}
		out.Groups = append(out.Groups, []*rlwe.Ciphertext{ct})
		out.Counts = append(out.Counts, 1)
		out.Lengths = append(out.Lengths, len(toks))
	}
	return out, nil
}
