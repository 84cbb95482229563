package henn

import (
	"fmt"
	"math"
	"runtime"
	"sort"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Mode selects how inputs are laid out in ciphertext slots.
type Mode int

const (
	// Packed puts several whole inputs in one ciphertext (feature f of input
	// s in slot f·S+s) and evaluates dense layers by rotations (diagonal
	// method, baby-step giant-step). Low latency: one image is one ciphertext.
	Packed Mode = iota
	// Slots is the CryptoNets layout: one ciphertext per feature, one slot
	// per input. Dense layers are scalar multiply-adds without rotations;
	// high throughput once thousands of inputs share the ciphertexts, but a
	// single input costs as much as a full batch.
	Slots
	// Tokens is the layout of an [FFNBlock]: one sentence per ciphertext,
	// feature f of token t in slot f·S+t.
	Tokens
)

func (m Mode) String() string {
	switch m {
	case Packed:
		return "packed"
	case Slots:
		return "slots"
	case Tokens:
		return "tokens"
	case Auto:
		return "auto"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// Options tune [Compile], [CompileFFN], [Run] and [RunFFN].
type Options struct {
	// Mode is Packed (default) or Slots for networks; FFN blocks always use
	// Tokens. Run also accepts Auto.
	Mode Mode
	// LogN forces the ring degree; 0 picks the smallest secure one that fits.
	LogN int
	// MaxTokens is the longest sentence an FFN layout must hold (default 64).
	MaxTokens int
	// Workers bounds the goroutines of one evaluation (default GOMAXPROCS).
	Workers int
	// Replicate (Packed only) puts one input per ciphertext and fills the
	// other input positions with copies the client rotates in plaintext,
	// so the first layer needs about S times fewer plaintext products and
	// fewer rotations: lowest single-input latency, lowest throughput.
	Replicate bool
	// NoMultiplex (graphs) keeps one channel per plane of the gapped grid
	// instead of packing channels into the gaps.
	NoMultiplex bool
	// Bootstrap (graphs) compiles for bootstrapped execution under these
	// parameters even when a modulus chain would hold the model. Without
	// it a graph deeper than every chain bootstraps under the preset of
	// LogN (LogN 0: the smallest ring that holds the packing).
	Bootstrap *he.BootstrapParams
	// Calibration are inputs (in the graph's input shape) on which a
	// bootstrapping model measures the values it bootstraps, to keep them
	// within the range Lattigo's bootstrapping is precise on (see
	// setFactors in bootstrap.go). nil: values are bootstrapped as they
	// are, which loses precision when they exceed 1/2.
	Calibration []*graph.Tensor
	// boot overrides Bootstrap in tests (insecure toy parameters).
	boot bootTarget
}

// Auto (for [Run] only) evaluates the inputs in the Slots layout for
// throughput and measures single-input latency separately in Packed mode.
const Auto Mode = -1

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// Layout is the public description of how a [Model] packs data: what a
// client needs to encrypt inputs and decode outputs. It holds no weights.
type Layout struct {
	Mode      Mode
	Params    ckks.Parameters
	InputDim  int
	OutputDim int
	// Level is the level inputs are encrypted at (= the model's depth).
	Level int
	// Block is the number of feature positions per input (a power of two);
	// Stride is the number of inputs (Packed) or tokens (Tokens) that share
	// a ciphertext: Block·Stride = slots. In Slots mode Block = 1 and
	// Stride = slots.
	Block, Stride int
	// InPeriod is the period (a power of two ≥ InputDim) with which the
	// client tiles each input over the Block positions; OutPeriod is the
	// period of the output.
	InPeriod, OutPeriod int
	// Copies > 1 (Options.Replicate): input position s of the single input
	// holds the input rotated by s·CopyShift features.
	Copies, CopyShift int
}

// PerCiphertext is how many inputs (sentences for Tokens) one ciphertext
// (Slots: one set of InputDim ciphertexts) holds.
func (l Layout) PerCiphertext() int {
	if l.Mode == Tokens || l.Copies > 1 {
		return 1
	}
	return l.Stride
}

// Model is a network compiled for encrypted evaluation: the parameters,
// the layout, and the linear maps with their diagonals found. Its weights
// belong to the server; a client needs only [Model.Layout].
type Model struct {
	layout Layout
	preset string
	stages []stage
	ffn    *ffnPlan
	gp     *graphPlan // compiled from a model graph (graphserver.go)
	opts   Options
	// depth is the levels one evaluation consumes when it bootstraps (the
	// layout's Level is then the input level, not the depth).
	depth int

	// Packed: per linear stage, the diagonal structure.
	diag []*diagMap
}

// Layout returns the public packing description.
func (m *Model) Layout() Layout { return m.layout }

// Params returns the CKKS parameters the model was planned for.
func (m *Model) Params() ckks.Parameters { return m.layout.Params }

// Preset names the he preset the modulus chain was taken from.
func (m *Model) Preset() string { return m.preset }

// Depth is the number of levels one evaluation consumes.
func (m *Model) Depth() int {
	if m.depth > 0 {
		return m.depth
	}
	return m.layout.Level
}

// Rotations returns the slot rotations the server needs Galois keys for.
func (m *Model) Rotations() []int {
	set := map[int]bool{}
	S := m.layout.Stride
	for _, d := range m.diag {
		if d.rep != nil {
			for _, r := range append(append(append([]int(nil), d.rep.babies...), d.rep.giants...), d.sum...) {
				set[r*S] = true
			}
			for _, r := range d.rep.posSum {
				set[r] = true
			}
			continue
		}
		for _, r := range d.rotations() {
			set[r*S] = true
		}
	}
	if m.gp != nil {
		for _, r := range m.gp.rotations() {
			set[r*S] = true
		}
	}
	if m.ffn != nil {
		for _, r := range m.ffn.rotations(S) {
			set[r] = true
		}
	}
	out := make([]int, 0, len(set))
	for r := range set {
		if r != 0 {
			out = append(out, r)
		}
	}
	sort.Ints(out)
	return out
}

func pow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Compile checks net, lowers it to linear maps and squares, plans the
// parameters (the depth is the number of both) and lays it out in mode
// Packed or Slots.
func Compile(net Network, opts Options) (*Model, error) {
	stages, outDim, err := lower(net)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("henn: network is the identity; nothing to evaluate")
	}
	depth := len(stages)
	if opts.Replicate && opts.Mode != Packed {
		return nil, fmt.Errorf("henn: Replicate applies to the Packed layout only, not %v", opts.Mode)
	}
	m := &Model{stages: stages, opts: opts}
	var slots int
	block := 1
	switch opts.Mode {
	case Packed:
		block = pow2(net.InputDim)
		for _, s := range stages {
			if s.lin != nil {
				block = max(block, pow2(s.lin.out))
			}
		}
		slots = block
	case Slots:
		slots = 1
	default:
		return nil, fmt.Errorf("henn: mode %v is not a network layout (use Packed or Slots)", opts.Mode)
	}
	choice, err := ChooseParams(depth, slots, opts.LogN)
	if err != nil {
		return nil, fmt.Errorf("%w (network: %d linear maps + %d squares)", err, depth-countSquares(stages), countSquares(stages))
	}
	n := choice.Params.MaxSlots()
	m.preset = choice.Preset
	m.layout = Layout{Mode: opts.Mode, Params: choice.Params, InputDim: net.InputDim, OutputDim: outDim,
		Level: depth, Block: block, Stride: n / block, InPeriod: pow2(net.InputDim), OutPeriod: pow2(outDim), Copies: 1}
	if opts.Mode == Slots {
		m.layout.InPeriod, m.layout.OutPeriod = 1, 1
		return m, nil
	}
	for _, s := range stages {
		if s.lin != nil {
			m.diag = append(m.diag, newDiagMap(s.lin, block))
		}
	}
	if opts.Replicate {
		r := newReplicated(m.diag[0], block, m.layout.Stride)
		m.diag[0].rep = r
		m.layout.Copies, m.layout.CopyShift = r.copies, r.g
	}
	return m, nil
}

func countSquares(st []stage) int {
	n := 0
	for _, s := range st {
		if s.lin == nil {
			n++
		}
	}
	return n
}

// diagMap is a linear map x (period pa) ↦ y (period pb) written as
// generalized diagonals (Halevi–Shoup; the "hybrid" rectangular form of
// Juvekar et al., GAZELLE 2018): y' = Σ_k d_k ⊙ rot(x, k), followed, when
// pb < pa, by log2(pa/pb) rotate-and-add steps. Only nonzero diagonals are
// kept, which is what makes a convolution given as a sparse matrix cheap.
type diagMap struct {
	pa, pb int
	diags  map[int][]float64 // k → one period (length max(pa,pb)) of d_k
	bias   []float64         // one period (pb) of the bias
	sum    []int             // rotate-and-add steps (feature units)
	n1     int               // baby-step size
	babies []int             // distinct k mod n1
	giants []int             // distinct k − k mod n1
	rep    *replicated       // first layer of a Replicate layout
}

// replicated is the first layer when the S input positions of a
// ciphertext hold copies of one input, copy s rotated by s·g features:
// diagonal k = s·g+j is applied in position s after a rotation by j, so one
// plaintext product covers S diagonals, then log2(copies) rotations by
// 1, 2, … slots add the positions up (the result is valid in position 0).
type replicated struct {
	copies, g int
	vecs      map[int][]float64 // j → slot vector (all positions)
	n1        int
	babies    []int
	giants    []int
	posSum    []int // slot rotations adding the copies
}

func newReplicated(d *diagMap, block, stride int) *replicated {
	K := min(d.pa, d.pb)
	copies := min(stride, K)
	r := &replicated{copies: copies, g: K / copies, vecs: map[int][]float64{}}
	for j := 0; j < r.g; j++ {
		v := make([]float64, block*stride)
		nz := false
		for s := 0; s < copies; s++ {
			dk, ok := d.diags[s*r.g+j]
			if !ok {
				continue
			}
			L := len(dk)
			for f := 0; f < block; f++ {
				if x := dk[f%L]; x != 0 {
					v[f*stride+s], nz = x, true
				}
			}
		}
		if nz {
			r.vecs[j] = v
		}
	}
	js := make([]int, 0, len(r.vecs))
	for j := range r.vecs {
		js = append(js, j)
	}
	sort.Ints(js)
	r.n1, r.babies, r.giants = bsgsSplit(js, r.g)
	for st := 1; st < copies; st <<= 1 {
		r.posSum = append(r.posSum, st)
	}
	return r
}

func newDiagMap(a *affine, block int) *diagMap {
	pa, pb := pow2(a.in), pow2(a.out)
	d := &diagMap{pa: pa, pb: pb, diags: map[int][]float64{}}
	L, K := pa, pb // wide: pb diagonals of length pa
	if pb > pa {
		L, K = pb, pa // tall: pa diagonals of length pb
	}
	w := a.matrix()
	for k := 0; k < K; k++ {
		v := make([]float64, L)
		nz := false
		for i := 0; i < L; i++ {
			row, col := i%pb, (i+k)%pa
			if row < a.out && col < a.in {
				if x := w[row][col]; x != 0 {
					v[i], nz = x, true
				}
			}
		}
		if nz {
			d.diags[k] = v
		}
	}
	d.bias = make([]float64, pb)
	copy(d.bias, a.b)
	for s := pb; s < pa; s <<= 1 {
		d.sum = append(d.sum, s)
	}
	ks := make([]int, 0, len(d.diags))
	for k := range d.diags {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	d.n1, d.babies, d.giants = bsgsSplit(ks, K)
	return d
}

// bsgsSplit picks the baby-step size n1 (a power of two) that minimizes the
// rotation count for diagonals ks < K: hoisted baby steps (counted at 0.6,
// they share one key-switch decomposition) plus giant steps.
func bsgsSplit(ks []int, K int) (n1 int, babies, giants []int) {
	best := math.Inf(1)
	for c := 1; c <= K; c <<= 1 {
		b, g := map[int]bool{}, map[int]bool{}
		for _, k := range ks {
			b[k%c], g[k-k%c] = true, true
		}
		cost := 0.6*float64(len(b)) + float64(len(g))
		if b[0] {
			cost -= 0.6
		}
		if g[0] {
			cost--
		}
		if cost < best-1e-9 {
			best, n1 = cost, c
			babies, giants = sortedKeys(b), sortedKeys(g)
		}
	}
	if n1 == 0 {
		n1 = 1
	}
	return n1, babies, giants
}

func sortedKeys(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func (d *diagMap) rotations() []int {
	var r []int
	r = append(r, d.babies...)
	r = append(r, d.giants...)
	r = append(r, d.sum...)
	return r
}

// slotVector spreads one period of a feature vector over the slots:
// slot f·S+s holds v[(f+shift) mod len(v)] for every input s.
func slotVector(v []float64, shift, block, stride int) []float64 {
	out := make([]float64, block*stride)
	L := len(v)
	for f := 0; f < block; f++ {
		x := v[((f+shift)%L+L)%L]
		if x == 0 {
			continue
		}
		row := out[f*stride : (f+1)*stride]
		for s := range row {
			row[s] = x
		}
	}
	return out
}
