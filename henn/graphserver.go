package henn

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// maxCachedPlaintextBytes bounds the encoded diagonals a server keeps;
// above it, diagonals are kept as slot vectors and encoded at every
// evaluation (slower, bounded memory).
const maxCachedPlaintextBytes = 2 << 30

// CompileGraph lowers a model graph whose activations are krelu.Poly nodes
// of degree ≤ 2 (see package rewrite) to encrypted evaluation in the
// Packed layout and plans 128-bit secure parameters with exactly the
// levels it consumes. The graph takes one input of shape 1×… (batch 1)
// and has one output.
func CompileGraph(g *graph.Graph, opts Options) (*Model, error) {
	if opts.Mode != Packed {
		return nil, fmt.Errorf("henn: graphs compile to the packed layout only, not %v", opts.Mode)
	}
	if opts.Replicate {
		return nil, errors.New("henn: Replicate is not available for graphs")
	}
	maxBlock := 0
	for _, p := range he.Presets() {
		if opts.LogN == 0 || p.LogN() == opts.LogN {
			maxBlock = max(maxBlock, 1<<p.LogN())
		}
	}
	gp, err := lowerGraph(g, maxBlock, !opts.NoMultiplex)
	if err != nil {
		return nil, err
	}
	depth := gp.values[gp.out].depth
	if opts.boot != nil {
		return compileBootstrapped(g, gp, opts.boot, opts)
	}
	if opts.Bootstrap != nil {
		return compileBootstrapped(g, gp, opts.Bootstrap, opts)
	}
	choice, err := ChooseParams(depth, gp.block, opts.LogN)
	if errors.Is(err, ErrTooDeep) && maxBlock >= gp.block {
		// Deeper than every chain: bootstrap.
		bt, berr := autoBootTarget(opts.LogN, gp.block)
		if berr != nil {
			return nil, fmt.Errorf("%w; bootstrapping: %v", err, berr)
		}
		return compileBootstrapped(g, gp, bt, opts)
	}
	if err != nil {
		return nil, err
	}
	n := choice.Params.MaxSlots()
	m := &Model{gp: gp, opts: opts, preset: choice.Preset}
	m.layout = Layout{Mode: Packed, Params: choice.Params, InputDim: gp.inDim, OutputDim: gp.outDim, Level: depth,
		Block: gp.block, Stride: n / gp.block, InPeriod: gp.block, OutPeriod: gp.values[gp.out].lay.period, Copies: 1}
	gp.describe(depth)
	return m, nil
}

// Plan returns the ciphertext steps of a model compiled from a graph (nil
// for other models): what `krelu inspect` prints.
func (m *Model) Plan() []PlanOp {
	if m.gp == nil {
		return nil
	}
	return append([]PlanOp(nil), m.gp.ops...)
}

// InputShape is the input shape of a model compiled from a graph.
func (m *Model) InputShape() []int {
	if m.gp == nil {
		return []int{1, m.layout.InputDim}
	}
	return append([]int(nil), m.gp.inShape...)
}

func (gp *graphPlan) describe(depth int) {
	gp.ops = nil
	for i, v := range gp.values {
		op := PlanOp{Name: v.name, Level: depth - v.depth, Depth: v.depth}
		if gp.boot != nil {
			op.Level = gp.boot.levels[i]
			for _, b := range gp.boot.points {
				if b.After == i {
					op.Bootstrap = true
				}
			}
		}
		switch v.kind {
		case gvInput:
			op.Kind = "input"
		case gvLinear:
			op.Kind = "linear"
			rots := map[int]bool{}
			for _, p := range v.lin.parts {
				op.Sources = append(op.Sources, p.src)
				op.Products += len(p.diags)
				for _, b := range p.babies {
					rots[b] = true
				}
				for _, g := range p.giants {
					rots[-1-g] = true
				}
			}
			delete(rots, 0)
			delete(rots, -1)
			op.Rotations = len(rots) + len(v.lin.sum)
		case gvSquare:
			op.Kind, op.Sources = "square", []int{v.src}
		case gvRotSum:
			op.Kind, op.Sources = "rotsum", []int{v.src}
			for _, st := range v.steps {
				op.Rotations += len(st) - 1
			}
		}
		if v.lay.period > 0 {
			op.Layout = fmt.Sprintf("compact %d, period %d", v.lay.n, v.lay.period)
		} else if g := v.lay.geom; g != nil {
			op.Layout = fmt.Sprintf("%d×%d×%d on the input grid, row step %d, column step %d", g.C, g.H, g.W, g.Rs, g.Cs)
			if g.Off != nil {
				op.Layout += ", channels multiplexed into the gaps"
			}
			op.Shape = []int{g.C, g.H, g.W}
		} else {
			op.Layout = fmt.Sprintf("%d scattered", v.lay.n)
		}
		gp.ops = append(gp.ops, op)
	}
}

func (gp *graphPlan) rotations() []int {
	set := map[int]bool{}
	for _, v := range gp.values {
		switch v.kind {
		case gvLinear:
			for _, p := range v.lin.parts {
				for _, r := range append(append([]int(nil), p.babies...), p.giants...) {
					set[r] = true
				}
			}
			for _, r := range v.lin.sum {
				set[r] = true
			}
		case gvRotSum:
			for _, st := range v.steps {
				for _, r := range st {
					set[r] = true
				}
			}
		}
	}
	delete(set, 0)
	return sortedKeys(set)
}

// graphServer evaluates a graphPlan.
type graphServer struct {
	s      *Server
	gp     *graphPlan
	levels []int
	scales []rlwe.Scale
	lins   map[int]*gLinServer
	last   []int // last value index reading each value
}

type gLinServer struct {
	parts []gPartServer
	bias  []float64 // slot vector, nil when zero
	sum   []int     // slots
	out   rlwe.Scale
}

type gPartServer struct {
	src    int
	level  int
	babies []int // slots
	giants []giantStep
	// lazy: plaintexts are encoded at evaluation time from vecs.
	vecs    map[*babyTerm][]float64
	ptScale rlwe.Scale
}

func newGraphServer(s *Server, gp *graphPlan) (*graphServer, error) {
	params := s.params
	L := s.m.layout.Level
	gs := &graphServer{s: s, gp: gp, lins: map[int]*gLinServer{}}
	gs.levels = make([]int, len(gp.values))
	gs.scales = make([]rlwe.Scale, len(gp.values))
	gs.last = make([]int, len(gp.values))
	S := s.m.layout.Stride
	B := gp.block
	budget := int64(maxCachedPlaintextBytes)
	boot := gp.boot
	delta := params.DefaultScale()
	for i, v := range gp.values {
		gs.levels[i] = L - v.depth
		if boot != nil {
			gs.levels[i] = boot.levels[i]
		}
		switch v.kind {
		case gvInput:
			gs.scales[i] = delta
		case gvSquare, gvRotSum:
			gs.last[v.src] = i
			gs.scales[i] = gs.scales[v.src]
			if v.kind == gvSquare {
				q := rlwe.NewScale(params.Q()[gs.levels[i]+1])
				gs.scales[i] = gs.scales[v.src].Mul(gs.scales[v.src]).Div(q)
				// With bootstrapping the linear step before the square
				// targets √(Δ·q), so the square lands on Δ up to
				// rounding of the square root (relative 1e-16), which is
				// named Δ exactly: a ciphertext bootstrapped at level 0
				// needs a power-of-two scale (he.CheckBootstrapInput).
				if r := gs.scales[i].Float64() / delta.Float64(); boot != nil && math.Abs(r-1) < 1e-12 {
					gs.scales[i] = delta
				}
			}
		case gvLinear:
			lvl := gs.levels[i] + 1
			q := rlwe.NewScale(params.Q()[lvl])
			out := delta
			if boot != nil && boot.pairHead[i] {
				f := new(big.Float).Mul(&delta.Value, big.NewFloat(float64(params.Q()[lvl-1])))
				out = rlwe.NewScale(new(big.Float).Sqrt(f))
			}
			acc := out.Mul(q)
			gs.scales[i] = out
			ls := &gLinServer{out: out}
			for _, st := range v.lin.sum {
				ls.sum = append(ls.sum, st*S)
			}
			for _, b := range v.lin.bias {
				if b != 0 {
					ls.bias = spread(v.lin.bias, S)
					if f := gp.factor(i); f != 1 {
						for k := range ls.bias {
							ls.bias[k] /= f
						}
					}
					break
				}
			}
			for _, p := range v.lin.parts {
				gs.last[p.src] = i
				ps := gPartServer{src: p.src, level: lvl, ptScale: acc.Div(gs.scales[p.src])}
				for _, b := range p.babies {
					ps.babies = append(ps.babies, b*S)
				}
				gi := map[int]int{}
				for _, g := range p.giants {
					gi[g] = len(ps.giants)
					ps.giants = append(ps.giants, giantStep{rot: g * S})
				}
				rs := make([]int, 0, len(p.diags))
				for r := range p.diags {
					rs = append(rs, r)
				}
				sort.Ints(rs)
				for _, r := range rs {
					sp := p.split[r]
					k := gi[sp[0]]
					ps.giants[k].terms = append(ps.giants[k].terms, babyTerm{rot: sp[1] * S})
				}
				ps.vecs = map[*babyTerm][]float64{}
				type job struct {
					t   *babyTerm
					vec []float64
				}
				var jobs []job
				// The source's ciphertext holds its values divided by
				// factor(src), this step's holds them divided by
				// factor(i) (bootstrap.go).
				rel := gp.factor(p.src) / gp.factor(i)
				for k := range ps.giants {
					for t := range ps.giants[k].terms {
						bt := &ps.giants[k].terms[t]
						g := ps.giants[k].rot / S
						r := mod(g+bt.rot/S, B)
						d := p.diags[r]
						// rot_g(pt) must equal d_r, so pt = rot_{−g}(d_r).
						shifted := make([]float64, B)
						for q := range shifted {
							shifted[q] = d[mod(q-g, B)] * rel
						}
						jobs = append(jobs, job{bt, spread(shifted, S)})
					}
				}
				size := int64(params.N()) * int64(lvl+1) * 8 * int64(len(jobs))
				if size <= budget {
					budget -= size
					var fe firstError
					parallel(len(jobs), s.workers, func(j int) {
						pt, err := he.Encode(params, jobs[j].vec, lvl, ps.ptScale)
						fe.set(err)
						jobs[j].t.pt = pt
					})
					if fe.err != nil {
						return nil, fmt.Errorf("henn: encoding diagonals: %w", fe.err)
					}
				} else {
					for _, j := range jobs {
						ps.vecs[j.t] = j.vec
					}
				}
				ls.parts = append(ls.parts, ps)
			}
			gs.lins[i] = ls
		}
	}
	gs.last[gp.out] = len(gp.values)
	return gs, nil
}

// spread puts feature vector v (one position per feature) into the slots
// of every input of a ciphertext: slot f·S+s holds v[f].
func spread(v []float64, S int) []float64 {
	if S == 1 {
		return append([]float64(nil), v...)
	}
	out := make([]float64, len(v)*S)
	for f, x := range v {
		if x == 0 {
			continue
		}
		for s := 0; s < S; s++ {
			out[f*S+s] = x
		}
	}
	return out
}

func (gs *graphServer) eval(in *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	s := gs.s
	cts := make([]*rlwe.Ciphertext, len(gs.gp.values))
	cts[0] = s.atLevel(in, gs.levels[0])
	// refreshed holds bootstrapped ciphertexts, keyed like bootPlan.edges.
	refreshed := map[[2]int]*rlwe.Ciphertext{}
	for i := 1; i < len(gs.gp.values); i++ {
		v := gs.gp.values[i]
		// get returns source src as step i reads it: bootstrapped when
		// the plan says so (once per bootstrap, shared by its readers).
		get := func(src int) (*rlwe.Ciphertext, error) {
			bp := gs.gp.boot
			if bp == nil || !bp.refreshed(src, i) {
				return cts[src], nil
			}
			key := [2]int{src, i}
			if !bp.edges[key] {
				key = [2]int{src, -1}
			}
			if c, ok := refreshed[key]; ok {
				return c, nil
			}
			c, err := gs.refresh(cts[src], gs.gp.values[src].name)
			if err != nil {
				return nil, err
			}
			refreshed[key] = c
			return c, nil
		}
		var err error
		switch v.kind {
		case gvSquare:
			var x *rlwe.Ciphertext
			if x, err = get(v.src); err == nil {
				cts[i], err = s.square(s.atLevel(x, gs.levels[i]+1), serverStage{outScale: gs.scales[i]})
			}
		case gvRotSum:
			var x *rlwe.Ciphertext
			if x, err = get(v.src); err != nil {
				break
			}
			x = s.atLevel(x, gs.levels[i]).CopyNew()
			for _, st := range v.steps {
				acc := x.CopyNew()
				for _, o := range st {
					if o == 0 {
						continue
					}
					r, err := s.eval.RotateNew(x, o*s.m.layout.Stride)
					if err != nil {
						return nil, fmt.Errorf("%s: %w", v.name, err)
					}
					if err := s.eval.Add(acc, r, acc); err != nil {
						return nil, err
					}
				}
				x = acc
			}
			cts[i] = x
		case gvLinear:
			cts[i], err = gs.linear(gs.lins[i], get)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		// Free what no later step reads.
		for j := range i {
			if cts[j] != nil && gs.last[j] <= i {
				cts[j] = nil
				delete(refreshed, [2]int{j, -1})
			}
		}
		for k := range refreshed {
			if k[1] == i {
				delete(refreshed, k)
			}
		}
	}
	return cts[gs.gp.out], nil
}

func (gs *graphServer) linear(ls *gLinServer, get func(src int) (*rlwe.Ciphertext, error)) (*rlwe.Ciphertext, error) {
	s := gs.s
	var total *rlwe.Ciphertext
	for _, p := range ls.parts {
		src, err := get(p.src)
		if err != nil {
			return nil, err
		}
		x := s.atLevel(src, p.level)
		rotated, err := s.rotateMany(x, p.babies)
		if err != nil {
			return nil, fmt.Errorf("baby steps: %w", err)
		}
		giants := p.giants
		if len(p.vecs) > 0 {
			if giants, err = gs.encodeLazy(p); err != nil {
				return nil, err
			}
		}
		acc, err := s.giantSteps(giants, func(r int) *rlwe.Ciphertext { return rotated[r] })
		if err != nil {
			return nil, err
		}
		if total == nil {
			total = acc
		} else if err := s.eval.Add(total, acc, total); err != nil {
			return nil, err
		}
	}
	if err := s.eval.Rescale(total, total); err != nil {
		return nil, err
	}
	total.Scale = ls.out
	for _, r := range ls.sum {
		rot, err := s.eval.RotateNew(total, r)
		if err != nil {
			return nil, fmt.Errorf("rotate-and-add: %w", err)
		}
		if err := s.eval.Add(total, rot, total); err != nil {
			return nil, err
		}
	}
	if ls.bias != nil {
		if err := s.eval.Add(total, ls.bias, total); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	return total, nil
}

// encodeLazy encodes a part's diagonals for one evaluation.
func (gs *graphServer) encodeLazy(p gPartServer) ([]giantStep, error) {
	out := make([]giantStep, len(p.giants))
	type job struct {
		dst *babyTerm
		vec []float64
	}
	var jobs []job
	for k, g := range p.giants {
		out[k] = giantStep{rot: g.rot, terms: make([]babyTerm, len(g.terms))}
		for t := range g.terms {
			out[k].terms[t].rot = g.terms[t].rot
			jobs = append(jobs, job{&out[k].terms[t], p.vecs[&p.giants[k].terms[t]]})
		}
	}
	var fe firstError
	parallel(len(jobs), gs.s.workers, func(i int) {
		pt, err := he.Encode(gs.s.params, jobs[i].vec, p.level, p.ptScale)
		fe.set(err)
		jobs[i].dst.pt = pt
	})
	return out, fe.err
}
