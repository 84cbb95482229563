package henn

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/levelplan"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// This file executes planned bootstraps in a compiled graph: a graph that
// needs more levels than one modulus chain is compiled under a
// bootstrapping preset of package he, package levelplan places the
// bootstraps on its ciphertext steps (fewest bootstraps first, then the
// least predicted work; the dynamic program of Orion, Ebel, Garimella and
// Reagen, arXiv 2311.03470), and the server refreshes the planned
// ciphertexts with the client's bootstrapping keys, which are evaluation
// keys (he.BootstrapKeys holds no secret).

// bootTarget is what compiling for bootstrapped execution needs to know of
// a bootstrapping parameter set. *he.BootstrapParams implements it; tests
// use insecure toy parameters built with Lattigo directly.
type bootTarget interface {
	Name() string
	Residual() ckks.Parameters
	LevelsAfter() int
	CheckBootstrapInput(ct *rlwe.Ciphertext) error
}

// refresher bootstraps ciphertexts (*he.Bootstrapper).
type refresher interface {
	Bootstrap(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error)
}

// BootstrapPoint is one bootstrap a compiled model executes.
type BootstrapPoint struct {
	// After is the step (its index in [Model.Plan] and the graph nodes it
	// covers) whose output is refreshed.
	After     int    `json:"after_step"`
	AfterName string `json:"after"`
	// Before is the step that reads the refreshed ciphertext, or −1 when
	// every reader does (a bootstrap before a fork).
	Before     int    `json:"before_step"`
	BeforeName string `json:"before,omitempty"`
	// FromLevel is the level the ciphertext is bootstrapped from; it comes
	// back at the preset's top level.
	FromLevel int `json:"from_level"`
	ToLevel   int `json:"to_level"`
}

// bootPlan is the level assignment of a graph compiled for bootstrapping.
type bootPlan struct {
	target bootTarget
	// levels[i] is the level of value i's ciphertext.
	levels []int
	// edges holds the bootstraps: (value, reading value), reading value −1
	// for every reader.
	edges  map[[2]int]bool
	points []BootstrapPoint
	// pairHead marks a linear step whose only reader is a square: the two
	// are planned as one operation so that no bootstrap falls between
	// them (the square's output scale is then exactly Δ, see
	// newGraphServer).
	pairHead []bool
	plan     *levelplan.Result
	// factor[i] > 1 means value i's ciphertext holds its values divided
	// by factor[i], so that what is bootstrapped stays within
	// [−1/2, 1/2] on the calibration inputs (see setFactors).
	factor []float64
	// bounds are the calibrated max |value| of the bootstrapped values
	// before division (nil without calibration inputs).
	bounds map[int]float64
}

// factor is the divisor of value i's ciphertext (1 without bootstrapping).
func (gp *graphPlan) factor(i int) float64 {
	if gp.boot == nil || gp.boot.factor == nil {
		return 1
	}
	return gp.boot.factor[i]
}

// maxSquares runs g on the calibration inputs and returns, for every
// degree-2 krelu.Poly node, the largest value of the square the encrypted
// evaluator computes for it, (x + c1/(2·c2))² over the node's inputs x.
func maxSquares(g *graph.Graph, calib []*graph.Tensor) (map[string]float64, error) {
	type polyIn struct {
		node string
		t    float64
	}
	want := map[string][]polyIn{} // tensor name → poly nodes reading it
	for _, n := range g.Nodes {
		if n.Op != graph.OpPoly || len(n.Inputs) == 0 {
			continue
		}
		c := n.AttrFloats("coefficients")
		if len(c) != 3 || c[2] == 0 {
			continue
		}
		want[n.Inputs[0]] = append(want[n.Inputs[0]], polyIn{nodeName(n), c[1] / (2 * c[2])})
	}
	out := map[string]float64{}
	in := g.Inputs[0]
	for k, x := range calib {
		var keep []string
		for name := range want {
			keep = append(keep, name)
		}
		vals, err := g.RunWith(map[string]*graph.Tensor{in.Name: x}, graph.RunOptions{Keep: keep})
		if err != nil {
			return nil, fmt.Errorf("calibration input %d: %w", k, err)
		}
		for name, ps := range want {
			t, ok := vals[name]
			if !ok {
				if t = x; name != in.Name {
					return nil, fmt.Errorf("calibration: activation input %q not computed", name)
				}
			}
			for _, p := range ps {
				m := out[p.node]
				for _, v := range t.Data {
					m = math.Max(m, (v+p.t)*(v+p.t))
				}
				out[p.node] = m
			}
		}
	}
	return out, nil
}

// setFactors chooses the divisors that keep every bootstrapped value
// within [−1/2, 1/2] on the calibration inputs. Lattigo's bootstrapping
// approximates the modular reduction by a scaled sine on values of
// magnitude ≤ 1 at the scale q0/2^LogMessageRatio (Cheon, Han, Kim, Kim,
// Song, "Bootstrapping for Approximate Homomorphic Encryption",
// EUROCRYPT 2018; Bossuat et al., ePrint 2022/024); a square of a
// pre-activation of 10 is 100, where that approximation fails (the
// deep model's logits moved by 0.2 without this). The linear step before
// the square divides by g, so the square holds z/g² and every reader
// multiplies its weights by g² — the division costs no level, only
// log2(g²) bits of the bootstrap's precision. Half the range is margin for
// inputs larger than the calibration ones.
func (bp *bootPlan) setFactors(gp *graphPlan, sq map[string]float64) {
	vals := gp.values
	bp.factor = make([]float64, len(vals))
	bp.bounds = map[int]float64{}
	need := make([]float64, len(vals)) // per square: largest bootstrapped bound
	for key := range bp.edges {
		a := key[0]
		terms, s := 1.0, a
		if vals[a].kind == gvRotSum {
			for _, st := range vals[a].steps {
				terms *= float64(len(st))
			}
			s = vals[a].src
		}
		if vals[s].kind != gvSquare {
			continue // the input or a linear output: not a square
		}
		b := terms * sq[vals[s].name]
		bp.bounds[a] = b
		need[s] = max(need[s], b)
	}
	for i := range vals {
		bp.factor[i] = 1
	}
	for s, v := range vals {
		if v.kind == gvSquare && bp.pairHead[v.src] && need[s] > 0.5 {
			bp.factor[v.src] = math.Sqrt(2 * need[s])
		}
	}
	for i, v := range vals {
		switch v.kind {
		case gvSquare:
			bp.factor[i] = bp.factor[v.src] * bp.factor[v.src]
		case gvRotSum:
			bp.factor[i] = bp.factor[v.src]
		}
	}
}

// sources lists the values a step reads.
func (v *gValue) sources() []int {
	switch v.kind {
	case gvSquare, gvRotSum:
		return []int{v.src}
	case gvLinear:
		var s []int
		for _, p := range v.lin.parts {
			s = append(s, p.src)
		}
		return s
	}
	return nil
}

// planBootstraps assigns levels and bootstraps to the steps of gp under
// target: each activation's square together with the linear step that
// feeds it is one planner operation of depth 2, a linear step reading two
// ciphertexts is a residual join, average-pooling sums cost no level.
func planBootstraps(gp *graphPlan, t bootTarget) (*bootPlan, error) {
	vals := gp.values
	n := len(vals)
	readers := make([][]int, n)
	for i, v := range vals {
		for _, s := range v.sources() {
			readers[s] = append(readers[s], i)
		}
	}
	bp := &bootPlan{target: t, pairHead: make([]bool, n), edges: map[[2]int]bool{}}
	for _, v := range vals {
		if v.kind == gvSquare && vals[v.src].kind == gvLinear && len(readers[v.src]) == 1 {
			bp.pairHead[v.src] = true
		}
	}
	opOf := make([]int, n)
	opOf[0] = levelplan.Input
	var ops []levelplan.Op
	var opVal, opReader []int
	var weight []float64
	for i := 1; i < n; i++ {
		v := vals[i]
		if bp.pairHead[i] {
			opOf[i] = -2
			continue
		}
		reader, depth := i, 1
		srcs := v.sources()
		w := 1.0
		switch v.kind {
		case gvSquare:
			if bp.pairHead[v.src] {
				reader, depth, srcs = v.src, 2, vals[v.src].sources()
				w += linWeight(vals[v.src].lin)
			}
		case gvLinear:
			w += linWeight(v.lin)
		case gvRotSum:
			depth = 0
			for _, st := range v.steps {
				w += float64(len(st) - 1)
			}
		}
		if len(srcs) > 2 {
			return nil, fmt.Errorf("henn: step %s reads %d ciphertexts; bootstrapped execution takes residual joins of two branches", v.name, len(srcs))
		}
		var ins []int
		for _, s := range srcs {
			if opOf[s] == -2 {
				return nil, fmt.Errorf("henn: step %s reads a value inside an activation (internal error)", v.name)
			}
			ins = append(ins, opOf[s])
		}
		opOf[i] = len(ops)
		ops = append(ops, levelplan.Op{Name: v.name, Inputs: ins, Depth: depth})
		opVal, opReader, weight = append(opVal, i), append(opReader, reader), append(weight, w)
	}
	if len(ops) == 0 || opVal[len(ops)-1] != gp.out {
		return nil, errors.New("henn: the output is not the last step (internal error)")
	}
	L := t.LevelsAfter()
	cfg := levelplan.Config{MaxLevel: L, BootLevel: L,
		// Work ∝ rotations and products × RNS limbs; bootstraps are
		// minimised first, so their unit cost only orders equal counts.
		OpCost:   func(op, level int) float64 { return weight[op] * float64(level+1) },
		BootCost: 1000 * float64(L+1)}
	res, err := levelplan.Plan(ops, cfg)
	if err != nil {
		if errors.Is(err, levelplan.ErrInfeasible) {
			return nil, fmt.Errorf("%w: an activation and its linear layer need 2 levels, bootstrapping preset %s gives %d after each bootstrap", ErrTooDeep, t.Name(), L)
		}
		return nil, err
	}
	bp.plan = res
	bp.levels = make([]int, n)
	bp.levels[0] = res.InputLevel
	for k, op := range res.Ops {
		i := opVal[k]
		switch {
		case opReader[k] != i: // linear + square
			bp.levels[opReader[k]] = op.Level - 1
			bp.levels[i] = op.Level - 2
		case vals[i].kind == gvRotSum:
			bp.levels[i] = op.Level
		default:
			bp.levels[i] = op.Level - 1
		}
	}
	for _, b := range res.Bootstraps {
		a, r := 0, -1
		if b.After != levelplan.Input {
			a = opVal[b.After]
		}
		if b.Before >= 0 {
			r = opReader[b.Before]
		}
		bp.edges[[2]int{a, r}] = true
		pt := BootstrapPoint{After: a, AfterName: vals[a].name, Before: r, FromLevel: bp.levels[a], ToLevel: L}
		if r >= 0 {
			pt.BeforeName = vals[r].name
		}
		bp.points = append(bp.points, pt)
	}
	sort.Slice(bp.points, func(i, j int) bool { return bp.points[i].After < bp.points[j].After })
	return bp, bp.check(gp)
}

func linWeight(l *gLinear) float64 {
	w := float64(len(l.sum))
	for _, p := range l.parts {
		w += float64(len(p.diags))/4 + float64(len(p.babies)+len(p.giants))
	}
	return w
}

// refreshed reports whether reader r reads value s through a bootstrap.
func (bp *bootPlan) refreshed(s, r int) bool {
	return bp.edges[[2]int{s, r}] || bp.edges[[2]int{s, -1}]
}

// check verifies the level assignment step by step: every step finds its
// sources at or above the level it runs at, and every level is ≥ 0.
func (bp *bootPlan) check(gp *graphPlan) error {
	L := bp.target.LevelsAfter()
	if bp.levels[0] < 0 || bp.levels[0] > L {
		return fmt.Errorf("henn: input level %d outside 0…%d (internal error)", bp.levels[0], L)
	}
	for i, v := range gp.values[1:] {
		i++
		need := bp.levels[i] + 1
		if v.kind == gvRotSum {
			need = bp.levels[i]
		}
		if bp.levels[i] < 0 {
			return fmt.Errorf("henn: step %s planned at level %d (internal error)", v.name, bp.levels[i])
		}
		for _, s := range v.sources() {
			have := bp.levels[s]
			if bp.refreshed(s, i) {
				have = L
			}
			if have < need {
				return fmt.Errorf("henn: step %s needs level %d, its source %s is at %d (internal error)", v.name, need, gp.values[s].name, have)
			}
		}
	}
	return nil
}

// compileBootstrapped finishes CompileGraph for a graph that bootstraps.
func compileBootstrapped(g *graph.Graph, gp *graphPlan, t bootTarget, opts Options) (*Model, error) {
	params := t.Residual()
	if n := params.MaxSlots(); n < gp.block {
		return nil, fmt.Errorf("%w: the packing needs %d slots per input, bootstrapping preset %s has %d", ErrTooDeep, gp.block, t.Name(), n)
	}
	bp, err := planBootstraps(gp, t)
	if err != nil {
		return nil, err
	}
	if opts.Calibration != nil {
		sq, err := maxSquares(g, opts.Calibration)
		if err != nil {
			return nil, err
		}
		bp.setFactors(gp, sq)
		if bp.factor[gp.out] != 1 {
			return nil, errors.New("henn: the output would be rescaled for bootstrapping (internal error)")
		}
	}
	gp.boot = bp
	depth := gp.values[gp.out].depth
	m := &Model{gp: gp, opts: opts, preset: t.Name(), depth: depth}
	n := params.MaxSlots()
	m.layout = Layout{Mode: Packed, Params: params, InputDim: gp.inDim, OutputDim: gp.outDim, Level: bp.levels[0],
		Block: gp.block, Stride: n / gp.block, InPeriod: gp.block, OutPeriod: gp.values[gp.out].lay.period, Copies: 1}
	gp.describe(depth)
	return m, nil
}

// autoBootTarget picks the bootstrapping preset for a graph too deep for
// every modulus chain: the one of ring degree 2^logN, or (logN = 0) the
// smallest ring whose slots hold the packing — LogN 15 before 16, because
// its keys take 4 GB instead of 9 (docs/deep.md).
func autoBootTarget(logN, block int) (*he.BootstrapParams, error) {
	presets := he.BootstrapPresets()
	sort.SliceStable(presets, func(i, j int) bool { return presets[i].Residual.LogN < presets[j].Residual.LogN })
	var tried []string
	for _, p := range presets {
		if logN != 0 && p.Residual.LogN != logN {
			continue
		}
		bp, err := he.NewBootstrapParams(p)
		if err != nil {
			return nil, err
		}
		if bp.Residual().MaxSlots() < block {
			tried = append(tried, fmt.Sprintf("%s has %d slots", p.Name, bp.Residual().MaxSlots()))
			continue
		}
		return bp, nil
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("no bootstrapping preset for LogN %d", logN)
	}
	return nil, fmt.Errorf("no bootstrapping preset holds %d slots per input (%s)", block, strings.Join(tried, ", "))
}

// Bootstraps lists the bootstraps one evaluation executes (nil for a model
// that fits one modulus chain).
func (m *Model) Bootstraps() []BootstrapPoint {
	if m.gp == nil || m.gp.boot == nil {
		return nil
	}
	return append([]BootstrapPoint(nil), m.gp.boot.points...)
}

// NeedsBootstrapKeys reports whether the server needs bootstrapping keys
// ([NewBootstrapServer]) for m.
func (m *Model) NeedsBootstrapKeys() bool { return m.gp != nil && m.gp.boot != nil }

// BootstrapParams returns the bootstrapping parameters m was compiled
// with (nil when it does not bootstrap): the client makes its
// bootstrapping keys for them ([Client.BootstrapKeys]).
func (m *Model) BootstrapParams() *he.BootstrapParams {
	if !m.NeedsBootstrapKeys() {
		return nil
	}
	bp, _ := m.gp.boot.target.(*he.BootstrapParams)
	return bp
}

// BootstrapKeys generates the bootstrapping keys of the model's
// bootstrapping parameters (see [he.KeyOwner.BootstrapKeys]): evaluation
// keys only, which the server receives with the ordinary ones.
func (c *Client) BootstrapKeys(bp *he.BootstrapParams) (*he.BootstrapKeys, error) {
	return c.owner.BootstrapKeys(bp)
}

// NewBootstrapServer prepares the evaluation of a model that bootstraps:
// evk are the client's evaluation keys for [Model.Rotations], bk its
// bootstrapping keys for [Model.BootstrapParams]. Building the
// bootstrapping evaluator precomputes the homomorphic DFT matrices
// (seconds to minutes and gigabytes at the secure presets, docs/deep.md).
func NewBootstrapServer(m *Model, evk *he.EvaluationKeys, bk *he.BootstrapKeys) (*Server, error) {
	if m == nil {
		return nil, errors.New("henn: nil model")
	}
	if !m.NeedsBootstrapKeys() {
		return nil, fmt.Errorf("henn: the model fits one modulus chain (%s) and does not bootstrap; use NewServer", m.preset)
	}
	bp := m.BootstrapParams()
	if bp == nil {
		return nil, errors.New("henn: the model was compiled for test bootstrapping parameters")
	}
	if bk == nil || bk.Params() == nil {
		return nil, fmt.Errorf("henn: the model bootstraps (%d bootstraps per evaluation under %s) and needs the client's bootstrapping keys; none were given", len(m.Bootstraps()), bp.Name())
	}
	if err := checkBootKeyParams(bp, bk.Params()); err != nil {
		return nil, err
	}
	if err := checkKeys(m, evk); err != nil {
		return nil, err
	}
	b, err := he.NewBootstrapper(bp, bk)
	if err != nil {
		return nil, err
	}
	return newServer(m, evk.KeySet(), b)
}

// checkBootKeyParams reports whether bootstrapping keys made for have can
// serve a model compiled for want.
func checkBootKeyParams(want, have *he.BootstrapParams) error {
	w, h := want.Circuit(), have.Circuit()
	if have.Name() != want.Name() || !w.Equal(&h) {
		return fmt.Errorf("henn: bootstrapping keys are for other parameters (%s, LogN %d) than the model's (%s, LogN %d)",
			have.Name(), h.LogN(), want.Name(), w.LogN())
	}
	return nil
}

// refresh bootstraps ct (value src) for the graph server.
func (gs *graphServer) refresh(ct *rlwe.Ciphertext, name string) (*rlwe.Ciphertext, error) {
	bp := gs.gp.boot
	if gs.s.boot == nil {
		return nil, fmt.Errorf("henn: step %s must be bootstrapped, the server has no bootstrapping keys", name)
	}
	if err := bp.target.CheckBootstrapInput(ct); err != nil {
		return nil, fmt.Errorf("bootstrapping the output of %s: %w", name, err)
	}
	out, err := gs.s.boot.Bootstrap(ct)
	if err != nil {
		return nil, fmt.Errorf("bootstrapping the output of %s: %w", name, err)
	}
	if L := bp.target.LevelsAfter(); out.Level() != L {
		return nil, fmt.Errorf("bootstrapping the output of %s returned level %d, want %d", name, out.Level(), L)
	}
	if r := out.Scale.Float64() / ct.Scale.Float64(); math.Abs(r-1) > 1e-9 {
		return nil, fmt.Errorf("bootstrapping the output of %s changed the scale from 2^%.3f to 2^%.3f", name, ct.Scale.Log2(), out.Scale.Log2())
	}
	return out, nil
}
