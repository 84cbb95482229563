package henn

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Encrypted evaluation of an [Encoder] (encoder_he.go: layout and plan;
// encoder_server.go: evaluation; client.go: encryption).
//
// Layout. One sentence per ciphertext, token-major: token t owns the block
// of B = pow2(2·Dim) slots t·B … t·B+B−1, and the T = pow2(MaxTokens)
// blocks form a period of P = T·B slots that the client repeats over the
// ring's slots, so a rotation by k·B is a cyclic token shift. Inside a
// block, feature f = h·dh+i of head h (dh = Dim/Heads) sits at position
// π(f) = i·Heads+h and again at Dim+π(f). Because of that copy, the
// rotate-and-add by Heads, 2·Heads, …, dh/2·Heads of q⊙k leaves in every
// position π(f) < Dim the full dot product of f's head, replicated over
// the head's features, with no mask and no extra level.
//
// Attention is the diagonal (Halevi–Shoup) ciphertext×ciphertext product
// over the T token shifts k = a + n1·b, baby steps a on K and V, giant
// steps b on Q and on the accumulators:
//
//	o = Σ_b rot_{n1·b·B}( Σ_a ((rot_{−n1·b·B}(q) ⊙ rot_{a·B}(k))_sum + c)² ⊙ rot_{a·B}(v ⊙ m) )
//
// with m the client's mask ciphertext (1/n in the blocks of the n real
// tokens, 0 elsewhere) and 1/c² folded into V: padded tokens contribute
// nothing and the server never learns n.
//
// Per-token linear maps are block-diagonal: every weight w of output row p
// and input position q sits on the diagonal q−p, the same in every block,
// evaluated baby-step/giant-step with hoisted baby rotations shared by all
// maps that read the same ciphertext (Server.rotateMany, Server.giantSteps).
// Folds that save levels: Norm·O and FFNIn·Norm·O into one stage on o (h
// and u together; Norm·x and FFNIn·Norm·x from the layer input, computed in
// the first stage), c2 of the quadratic activation into FFNOut, the
// classifier into the last FFNOut. Levels per layer: 1 (Q, K, V) + 3
// (q⊙k, square, ⊙v) + 1 (h, u) + 1 (square) + 1 (FFNOut) = 7, and the last
// layer 1 more for the mask of the mean pooling: 8.

// EncoderLayout is the public description of an encrypted encoder's
// packing: what a client needs to encrypt a sentence and read the logits.
type EncoderLayout struct {
	Params            ckks.Parameters
	Dim, Heads        int
	MaxTokens         int
	Classes           int
	Block, Tokens     int // B and T: P = Block·Tokens slots per period
	Level             int // level inputs are encrypted at (= depth)
	ClassStride       int // logit c is read in slot c·ClassStride
	permutation       []int
	encoderLayerCount int
}

// Period is the number of slots of one copy of the sentence.
func (l EncoderLayout) Period() int { return l.Block * l.Tokens }

// Layers is the number of encoder layers.
func (l EncoderLayout) Layers() int { return l.encoderLayerCount }

// position returns π(f), the position of feature f inside a token block.
func (l EncoderLayout) position(f int) int { return l.permutation[f] }

// EncoderModel is an [Encoder] compiled for encrypted evaluation: the
// parameters, the layout and the per-layer plan. Its weights belong to the
// server; a client needs only [EncoderModel.Layout].
type EncoderModel struct {
	layout  EncoderLayout
	preset  string
	workers int
	layers  []*encLayerPlan
	classB  []float64 // classifier bias, one period's worth of slots (nil when zero)
	shift   float64   // c
	// attention shifts: k = a + n1·b
	n1, n2 int
	// fingerprint is Encoder.Fingerprint of the compiled encoder.
	fingerprint [32]byte
}

// encoderDepth is the number of levels an encoder of layers layers uses.
func encoderDepth(layers int) int { return 7*(layers-1) + 8 }

// Layout returns the public packing description.
func (m *EncoderModel) Layout() EncoderLayout { return m.layout }

// Params returns the CKKS parameters.
func (m *EncoderModel) Params() ckks.Parameters { return m.layout.Params }

// Preset names the he preset the modulus chain was taken from.
func (m *EncoderModel) Preset() string { return m.preset }

// Depth is the number of levels one evaluation consumes.
func (m *EncoderModel) Depth() int { return m.layout.Level }

// tokenMap is a per-token affine map in diagonal form: diags[r][p] is the
// weight that output position p takes from input position p+r of the same
// block (r in (−B, B)); bias is per position (nil when zero).
type tokenMap struct {
	name  string
	diags map[int][]float64
	bias  []float64
	// set by the plan
	level   int         // input level
	ptScale rlwe.Scale  // plaintext scale
	out     rlwe.Scale  // scale after the rescale
	giants  []giantStep // the split; plaintexts live in each server's copy
}

// rowSpec is one output row of a tokenMap: it is written at position pos
// and holds Σ_j w[j]·x_j + b.
type rowSpec struct {
	pos int
	w   []float64
	b   float64
}

// newTokenMap builds the diagonals of rows over an input whose feature j
// can be read at any of the positions in[j]. Of several positions it takes
// the one at offset [0, dup) from the row, else at [−dup, 0), else the
// nearest: with the input duplicated at distance dup this keeps the offsets
// of every map in [−dup, dup).
func newTokenMap(name string, rows []rowSpec, in [][]int, dup, B int) *tokenMap {
	m := &tokenMap{name: name, diags: map[int][]float64{}}
	bias := make([]float64, B)
	nzBias := false
	for _, row := range rows {
		if row.b != 0 {
			bias[row.pos] += row.b
			nzBias = true
		}
		for j, w := range row.w {
			if w == 0 {
				continue
			}
			best, cost := 0, math.MaxInt
			for _, q := range in[j] {
				r := q - row.pos
				c := 2*B + abs(r)
				switch {
				case r >= 0 && r < dup:
					c = r
				case r < 0 && r >= -dup:
					c = B - r
				}
				if c < cost {
					best, cost = r, c
				}
			}
			d := m.diags[best]
			if d == nil {
				d = make([]float64, B)
				m.diags[best] = d
			}
			d[row.pos] += w
		}
	}
	if nzBias {
		m.bias = bias
	}
	if len(m.diags) == 0 {
		// A zero matrix (possibly with a bias) still needs a ciphertext at
		// the right level and scale: one zero diagonal gives it.
		m.diags[0] = make([]float64, B)
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// encLayerPlan is one layer's maps: stage A reads the layer input x,
// stage B the attention output o (duplicated), stage C the squared FFN
// hidden units.
type encLayerPlan struct {
	level             int // input level
	q, k, v, nx, ux   *tokenMap
	h, u              *tokenMap
	f                 *tokenMap // y = h + f(sq); nil in the last layer
	gh, gf            *tokenMap // last layer: class partials from h and sq
	sS, sA, sSq, sOut rlwe.Scale
	babiesA, babiesB  []int
	babiesC, babiesH  []int
}

// CompileEncoder checks e and plans its encrypted evaluation (parameters
// from package he's presets with exactly the levels it consumes, see
// [encoderDepth]). opts.LogN forces the ring degree, opts.Workers bounds
// the goroutines of one evaluation (default GOMAXPROCS).
func CompileEncoder(e *Encoder, opts Options) (*EncoderModel, error) {
	if e == nil {
		return nil, errors.New("henn: nil encoder")
	}
	classes, err := e.Validate()
	if err != nil {
		return nil, err
	}
	D, H := e.Dim, e.Heads
	dh := D / H
	if dh&(dh-1) != 0 {
		return nil, fmt.Errorf("henn: encrypted attention needs a power-of-two head width, have %d features per head", dh)
	}
	B := pow2(2 * D)
	// At least two token blocks, so that the diagonal offsets in (−B, B)
	// stay distinct modulo the period.
	T := max(2, pow2(e.MaxTokens))
	for l, ly := range e.Layers {
		if hidden := len(ly.FFNIn.W); hidden > B {
			return nil, fmt.Errorf("henn: layer %d has %d hidden units, the encrypted layout holds at most %d (2·Dim rounded up to a power of two)", l, hidden, B)
		}
		if len(ly.Act.Coeffs) < 3 || ly.Act.Coeffs[2] == 0 {
			return nil, fmt.Errorf("henn: layer %d activation is not quadratic; the encrypted encoder evaluates c2·x²+c1·x+c0 with c2 ≠ 0", l)
		}
	}
	if classes > B {
		return nil, fmt.Errorf("henn: %d classes exceed the token block of %d slots", classes, B)
	}
	depth := encoderDepth(len(e.Layers))
	choice, err := ChooseParams(depth, B*T, opts.LogN)
	if err != nil {
		return nil, fmt.Errorf("%w (encoder: %d layers, 7 levels each and 1 for the pooling mask)", err, len(e.Layers))
	}
	params := choice.Params
	perm := make([]int, D)
	for f := range D {
		perm[f] = (f%dh)*H + f/dh
	}
	W := B / pow2(classes)
	lay := EncoderLayout{Params: params, Dim: D, Heads: H, MaxTokens: e.MaxTokens, Classes: classes,
		Block: B, Tokens: T, Level: depth, ClassStride: W, permutation: perm, encoderLayerCount: len(e.Layers)}
	m := &EncoderModel{layout: lay, preset: choice.Preset, workers: opts.workers(), shift: e.QuadShift, fingerprint: e.Fingerprint()}
	m.n1 = 1
	for m.n1*m.n1 < T {
		m.n1 <<= 1
	}
	m.n2 = T / m.n1
	if e.Classifier.B != nil {
		cb := make([]float64, B)
		nz := false
		for c, b := range e.Classifier.B {
			cb[c*W] = b
			nz = nz || b != 0
		}
		if nz {
			m.classB = cb
		}
	}
	level := depth
	for l := range e.Layers {
		last := l == len(e.Layers)-1
		lp := buildLayer(e, l, lay, last)
		lp.level = level
		if err := m.planLayer(lp, last); err != nil {
			return nil, err
		}
		m.layers = append(m.layers, lp)
		level -= 7
	}
	return m, nil
}

// dupPositions returns, per feature, its two positions in a duplicated
// token block.
func dupPositions(l EncoderLayout) [][]int {
	in := make([][]int, l.Dim)
	for f := range in {
		in[f] = []int{l.position(f), l.Dim + l.position(f)}
	}
	return in
}

func matMul(a, b [][]float64) [][]float64 {
	out := make([][]float64, len(a))
	for i := range a {
		out[i] = make([]float64, len(b[0]))
		for k, x := range a[i] {
			if x == 0 {
				continue
			}
			for j, y := range b[k] {
				out[i][j] += x * y
			}
		}
	}
	return out
}

func matVec(a [][]float64, v []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		for j, x := range a[i] {
			out[i] += x * v[j]
		}
	}
	return out
}

func biasOf(d Dense) []float64 {
	if d.B != nil {
		return d.B
	}
	return make([]float64, len(d.W))
}

// buildLayer folds layer l's weights into its token maps.
func buildLayer(e *Encoder, l int, lay EncoderLayout, last bool) *encLayerPlan {
	ly := e.Layers[l]
	D, B := lay.Dim, lay.Block
	dup := dupPositions(lay)
	hidden := len(ly.FFNIn.W)
	hiddenPos := make([][]int, hidden)
	for u := range hiddenPos {
		hiddenPos[u] = []int{u}
	}
	// rows writes the rows of weights w (bias b, scaled by s) at the
	// positions of the duplicated layout (both copies when both).
	rows := func(w [][]float64, b []float64, s float64, both bool) []rowSpec {
		var out []rowSpec
		for f := range w {
			r := make([]float64, len(w[f]))
			for j, x := range w[f] {
				r[j] = s * x
			}
			bb := 0.0
			if b != nil {
				bb = s * b[f]
			}
			out = append(out, rowSpec{pos: lay.position(f), w: r, b: bb})
			if both {
				out = append(out, rowSpec{pos: D + lay.position(f), w: r, b: bb})
			}
		}
		return out
	}
	hiddenRows := func(w [][]float64, b []float64) []rowSpec {
		out := make([]rowSpec, len(w))
		for u := range w {
			out[u] = rowSpec{pos: u, w: w[u]}
			if b != nil {
				out[u].b = b[u]
			}
		}
		return out
	}
	c := e.QuadShift
	c0, c1, c2 := ly.Act.Coeffs[0], ly.Act.Coeffs[1], ly.Act.Coeffs[2]
	t := c1 / (2 * c2)
	eConst := c0 - c1*c1/(4*c2)

	Wn, Wo, Wi, Wf := ly.Norm.W, ly.O.W, ly.FFNIn.W, ly.FFNOut.W
	bNorm := matVec(Wn, biasOf(ly.O)) // Norm·bO + bNorm
	for i, b := range biasOf(ly.Norm) {
		bNorm[i] += b
	}
	WnWo := matMul(Wn, Wo)
	WiWn := matMul(Wi, Wn)
	bU := matVec(Wi, bNorm) // FFNIn·(Norm·bO + bNorm) + bIn + t
	for i, b := range biasOf(ly.FFNIn) {
		bU[i] += b + t
	}
	lp := &encLayerPlan{
		q:  newTokenMap("Q", rows(ly.Q.W, ly.Q.B, 1, true), dup, D, B),
		k:  newTokenMap("K", rows(ly.K.W, ly.K.B, 1, true), dup, D, B),
		v:  newTokenMap("V", rows(ly.V.W, ly.V.B, 1/(c*c), false), dup, D, B),
		nx: newTokenMap("Norm", rows(Wn, bNorm, 1, true), dup, D, B),
		ux: newTokenMap("FFNIn·Norm", hiddenRows(WiWn, bU), dup, D, B),
		h:  newTokenMap("Norm·O", rows(WnWo, nil, 1, true), dup, D, B),
		u:  newTokenMap("FFNIn·Norm·O", hiddenRows(matMul(Wi, WnWo), nil), dup, D, B),
	}
	// y = h + c2·Wf·sq + (e·Wf·1 + bF)
	bY := make([]float64, D)
	for f := range D {
		for _, w := range Wf[f] {
			bY[f] += eConst * w
		}
	}
	for f, b := range biasOf(ly.FFNOut) {
		bY[f] += b
	}
	if !last {
		// c2 scales the weights only, not the bias.
		fr := rows(Wf, nil, c2, true)
		for i := range fr {
			fr[i].b = bY[i/2]
		}
		lp.f = newTokenMap("FFNOut", fr, hiddenPos, D, B)
		return lp
	}
	// Class partials: row c·W+j holds Σ_{f ≡ j mod W} C[c][f]·y[f].
	C := e.Classifier.W
	W := lay.ClassStride
	ident := make([][]float64, D)
	for f := range ident {
		ident[f] = make([]float64, D)
		ident[f][f] = 1
	}
	partial := func(src [][]float64, b []float64, s float64) []rowSpec {
		var out []rowSpec
		for cl := range C {
			for j := 0; j < W && j < D; j++ {
				r := make([]float64, len(src[0]))
				bb := 0.0
				for f := j; f < D; f += W {
					w := C[cl][f]
					if w == 0 {
						continue
					}
					for i, x := range src[f] {
						r[i] += s * w * x
					}
					if b != nil {
						bb += w * b[f]
					}
				}
				out = append(out, rowSpec{pos: cl*W + j, w: r, b: bb})
			}
		}
		return out
	}
	lp.gh = newTokenMap("Classifier", partial(ident, nil, 1), dup, D, B)
	lp.gf = newTokenMap("Classifier·FFNOut", partial(Wf, bY, c2), hiddenPos, D, B)
	return lp
}

// planLayer fixes the levels and scales of lp's maps and splits them into
// baby and giant steps (one baby-step size per input ciphertext, so the
// maps of a stage share their hoisted baby rotations).
func (m *EncoderModel) planLayer(lp *encLayerPlan, last bool) error {
	params := m.layout.Params
	q := func(l int) rlwe.Scale { return rlwe.NewScale(params.Q()[l]) }
	delta := params.DefaultScale()
	L := lp.level
	// q⊙k lands at sS = √(q_{L−2}·q_{L−3}), so the square lands at q_{L−3}
	// and its product with v⊙m (at Δ) at exactly Δ.
	lp.sS = rlwe.NewScale(math.Sqrt(q(L-2).Float64() * q(L-3).Float64()))
	lp.sA = q(L - 3)
	sQ := lp.sS.Mul(q(L - 1)).Div(delta)
	set := func(t *tokenMap, level int, in, out rlwe.Scale) {
		t.level, t.out = level, out
		t.ptScale = out.Mul(q(level)).Div(in)
	}
	set(lp.q, L, delta, sQ)
	set(lp.k, L, delta, delta)
	set(lp.v, L, delta, q(L-1)) // v⊙m (m at Δ) lands at Δ
	set(lp.nx, L, delta, delta)
	set(lp.ux, L, delta, delta)
	set(lp.h, L-4, delta, delta)
	set(lp.u, L-4, delta, delta)
	lp.sSq = delta.Mul(delta).Div(q(L - 5))
	if !last {
		set(lp.f, L-6, lp.sSq, delta)
	} else {
		// z ⊙ m (m at Δ) lands at Δ.
		set(lp.gh, L-5, delta, q(L-7))
		set(lp.gf, L-6, lp.sSq, q(L-7))
	}
	var err error
	if lp.babiesA, err = m.split(lp.q, lp.k, lp.v, lp.nx, lp.ux); err != nil {
		return err
	}
	if lp.babiesB, err = m.split(lp.h, lp.u); err != nil {
		return err
	}
	if !last {
		lp.babiesC, err = m.split(lp.f)
	} else {
		if lp.babiesH, err = m.split(lp.gh); err != nil {
			return err
		}
		lp.babiesC, err = m.split(lp.gf)
	}
	return err
}

// rot returns the rotation by r slots written in (−P/2, P/2]: on P-periodic
// slot vectors rotations by r and r±P agree.
func (m *EncoderModel) rot(r int) int {
	P := m.layout.Period()
	r = ((r % P) + P) % P
	if r > P/2 {
		r -= P
	}
	return r
}

// split chooses one baby-step size for maps that read the same ciphertext
// and lays out their giant steps; it returns the baby rotations (slots).
func (m *EncoderModel) split(maps ...*tokenMap) ([]int, error) {
	P := m.layout.Period()
	var ks []int
	seen := map[int]bool{}
	for _, t := range maps {
		for r := range t.diags {
			k := ((r % P) + P) % P
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Ints(ks)
	n1, _, _ := bsgsSplit(ks, P)
	babySet := map[int]bool{}
	for _, t := range maps {
		gi := map[int]int{}
		rs := make([]int, 0, len(t.diags))
		for r := range t.diags {
			rs = append(rs, r)
		}
		sort.Ints(rs)
		for _, r := range rs {
			k := ((r % P) + P) % P
			g, b := k-k%n1, k%n1
			if _, ok := gi[g]; !ok {
				gi[g] = len(t.giants)
				t.giants = append(t.giants, giantStep{rot: m.rot(g)})
			}
			babySet[b] = true
			t.giants[gi[g]].terms = append(t.giants[gi[g]].terms, babyTerm{rot: b})
		}
	}
	return sortedKeys(babySet), nil
}

// diagVector is the slot vector of the plaintext for diagonal r of t in
// giant step g: rot_{−g}(d_r) repeated over all slots.
func (m *EncoderModel) diagVector(t *tokenMap, r, g int) []float64 {
	B := m.layout.Block
	d := t.diags[r]
	n := m.layout.Params.MaxSlots()
	v := make([]float64, n)
	for s := range v {
		v[s] = d[mod(s-g, B)]
	}
	return v
}

// tile repeats one block's vector over all slots.
func (m *EncoderModel) tile(block []float64) []float64 {
	B := m.layout.Block
	n := m.layout.Params.MaxSlots()
	v := make([]float64, n)
	for s := range v {
		v[s] = block[s%B]
	}
	return v
}

// maps returns every token map of the model.
func (m *EncoderModel) maps() []*tokenMap {
	var out []*tokenMap
	for _, lp := range m.layers {
		for _, t := range []*tokenMap{lp.q, lp.k, lp.v, lp.nx, lp.ux, lp.h, lp.u, lp.f, lp.gh, lp.gf} {
			if t != nil {
				out = append(out, t)
			}
		}
	}
	return out
}

// Rotations returns the slot rotations the server needs Galois keys for.
func (m *EncoderModel) Rotations() []int {
	set := map[int]bool{}
	add := func(r int) {
		if r = m.rot(r); r != 0 {
			set[r] = true
		}
	}
	for _, lp := range m.layers {
		for _, bs := range [][]int{lp.babiesA, lp.babiesB, lp.babiesC, lp.babiesH} {
			for _, b := range bs {
				add(b)
			}
		}
	}
	for _, t := range m.maps() {
		for _, g := range t.giants {
			add(g.rot)
		}
	}
	l := m.layout
	B := l.Block
	for a := 1; a < m.n1; a++ {
		add(a * B)
	}
	for b := 1; b < m.n2; b++ {
		add(m.n1 * b * B)
		add(-m.n1 * b * B)
	}
	for s := l.Heads; s < l.Dim; s <<= 1 {
		add(s) // the head's rotate-and-add
	}
	add(-l.Dim) // duplicating o
	for s := 1; s < l.ClassStride; s <<= 1 {
		add(s) // pooling over features
	}
	for s := B; s < l.Period(); s <<= 1 {
		add(s) // pooling over tokens
	}
	out := make([]int, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Ints(out)
	return out
}
