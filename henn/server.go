package henn

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Ciphertexts is what travels between client and server: Groups[g] holds
// the ciphertexts of one group of inputs (Packed and Tokens: one ciphertext;
// Slots: one per feature), Counts[g] how many inputs the group carries and,
// for Tokens, Lengths[g] the sentence length (public metadata: the server
// needs it to average over real tokens only).
type Ciphertexts struct {
	Groups  [][]*rlwe.Ciphertext
	Counts  []int
	Lengths []int
}

// Inputs returns the number of inputs carried.
func (c *Ciphertexts) Inputs() int {
	n := 0
	for _, k := range c.Counts {
		n += k
	}
	return n
}

// BinarySize is the serialized size in bytes of all ciphertexts.
func (c *Ciphertexts) BinarySize() int64 {
	var n int64
	for _, g := range c.Groups {
		for _, ct := range g {
			n += int64(ct.BinarySize())
		}
	}
	return n
}

// Server evaluates a [Model] on ciphertexts. It holds the plaintext weights
// and the public evaluation keys (he.EvaluationKeys has no secret key, so
// nothing reachable from a Server can decrypt). Safe for concurrent use.
type Server struct {
	m       *Model
	params  ckks.Parameters
	eval    *ckks.Evaluator
	workers int
	// pool, when set, holds one evaluator per worker for rotateMany and
	// giantSteps (a Lattigo evaluator holds buffers, so concurrent calls
	// on one evaluator race); without it they share eval.
	pool  []*ckks.Evaluator
	steps []serverStage
	ffn   *ffnServer
	gs    *graphServer
	boot  refresher // bootstrapping models only (bootstrap.go)
}

type serverStage struct {
	level   int
	inScale rlwe.Scale
	// accScale is the scale of a linear map's accumulator before its rescale
	// (Δ·q_level, so the rescale lands exactly on Δ).
	accScale rlwe.Scale
	outScale rlwe.Scale
	lin      *affine
	packed   *packedLinear
}

type packedLinear struct {
	d      *diagMap
	giants []giantStep
	bias   []float64 // slot vector; nil when zero
}

type giantStep struct {
	rot   int // slots
	terms []babyTerm
}

type babyTerm struct {
	rot int // slots, key into the baby rotations
	pt  *rlwe.Plaintext
}

// NewServer prepares the evaluation of m with the client's public keys: it
// checks that the keys match the parameters and hold every rotation the
// model needs, and (Packed) encodes the diagonals once.
func NewServer(m *Model, evk *he.EvaluationKeys) (*Server, error) {
	if m != nil && m.NeedsBootstrapKeys() {
		return nil, fmt.Errorf("henn: the model bootstraps (%d bootstraps per evaluation under %s) and needs the client's bootstrapping keys as well: use NewBootstrapServer", len(m.Bootstraps()), m.preset)
	}
	if err := checkKeys(m, evk); err != nil {
		return nil, err
	}
	return newServer(m, evk.KeySet(), nil)
}

// newServer builds a server from checked keys; boot refreshes the
// ciphertexts of a bootstrapping model.
func newServer(m *Model, keys rlwe.EvaluationKeySet, boot refresher) (*Server, error) {
	params := m.layout.Params
	s := &Server{m: m, params: params, eval: ckks.NewEvaluator(params, keys), workers: m.opts.workers(), boot: boot}
	if err := s.encodeWeights(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkKeys reports why evk cannot serve m: other parameters, no
// relinearization key, or missing rotations.
func checkKeys(m *Model, evk *he.EvaluationKeys) error {
	if m == nil || evk == nil {
		return errors.New("henn: nil model or evaluation keys")
	}
	params := m.layout.Params
	if !evk.Params.Equal(&params) {
		return fmt.Errorf("henn: evaluation keys are for other parameters (LogN %d, %d levels; model wants LogN %d, %d levels)",
			evk.Params.LogN(), evk.Params.MaxLevel(), params.LogN(), params.MaxLevel())
	}
	if evk.Relin == nil {
		return errors.New("henn: evaluation keys lack the relinearization key")
	}
	var missing []int
	for _, r := range m.Rotations() {
		if !evk.HasRotation(r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("henn: evaluation keys lack %d of the %d rotations the model needs (first: %d); generate them with Client.EvaluationKeys", len(missing), len(m.Rotations()), missing[0])
	}
	return nil
}

// encodeWeights prepares the key-independent part of s: the stages'
// scales and (Packed, Tokens) the diagonals encoded as plaintexts.
func (s *Server) encodeWeights() error {
	m, params := s.m, s.params
	if m.ffn != nil {
		f, err := newFFNServer(s, m.ffn)
		if err != nil {
			return err
		}
		s.ffn = f
		return nil
	}
	if m.gp != nil {
		gs, err := newGraphServer(s, m.gp)
		if err != nil {
			return err
		}
		s.gs = gs
		return nil
	}
	level, scale := m.layout.Level, params.DefaultScale()
	li := 0
	for _, st := range m.stages {
		q := rlwe.NewScale(params.Q()[level])
		ss := serverStage{level: level, inScale: scale, lin: st.lin}
		if st.lin != nil {
			ss.accScale = params.DefaultScale().Mul(q)
			ss.outScale = params.DefaultScale()
			if m.layout.Mode == Packed {
				pl, err := s.encodeDiagonals(m.diag[li], level, ss.accScale.Div(scale))
				if err != nil {
					return err
				}
				ss.packed = pl
				li++
			}
		} else {
			ss.accScale = scale.Mul(scale)
			ss.outScale = ss.accScale.Div(q)
		}
		s.steps = append(s.steps, ss)
		level, scale = level-1, ss.outScale
	}
	return nil
}

func (s *Server) encodeDiagonals(d *diagMap, level int, ptScale rlwe.Scale) (*packedLinear, error) {
	if d.rep != nil {
		return s.encodeReplicated(d, level, ptScale)
	}
	S, B := s.m.layout.Stride, s.m.layout.Block
	pl := &packedLinear{d: d}
	gi := map[int]int{}
	type job struct {
		g, k int
		t    *babyTerm
	}
	var jobs []job
	for _, g := range d.giants {
		gi[g] = len(pl.giants)
		pl.giants = append(pl.giants, giantStep{rot: g * S})
	}
	for k := range d.diags {
		g := k - k%d.n1
		pl.giants[gi[g]].terms = append(pl.giants[gi[g]].terms, babyTerm{rot: (k % d.n1) * S})
	}
	for i := range pl.giants {
		for j := range pl.giants[i].terms {
			g := pl.giants[i].rot / S
			jobs = append(jobs, job{g: g, k: g + pl.giants[i].terms[j].rot/S, t: &pl.giants[i].terms[j]})
		}
	}
	var fe firstError
	parallel(len(jobs), s.workers, func(i int) {
		j := jobs[i]
		// rot_g(pt) must equal d_k, so pt = rot_{−g}(d_k).
		v := slotVector(d.diags[j.k], -j.g, B, S)
		pt, err := he.Encode(s.params, v, level, ptScale)
		fe.set(err)
		j.t.pt = pt
	})
	return s.finishPacked(pl, d, fe.err)
}

func (s *Server) encodeReplicated(d *diagMap, level int, ptScale rlwe.Scale) (*packedLinear, error) {
	S, n := s.m.layout.Stride, s.params.MaxSlots()
	r := d.rep
	pl := &packedLinear{d: d}
	gi := map[int]int{}
	for _, g := range r.giants {
		gi[g] = len(pl.giants)
		pl.giants = append(pl.giants, giantStep{rot: g * S})
	}
	type job struct {
		g, j int
		t    *babyTerm
	}
	for j := range r.vecs {
		g := j - j%r.n1
		pl.giants[gi[g]].terms = append(pl.giants[gi[g]].terms, babyTerm{rot: (j % r.n1) * S})
	}
	var jobs []job
	for i := range pl.giants {
		g := pl.giants[i].rot / S
		for t := range pl.giants[i].terms {
			jobs = append(jobs, job{g: g, j: g + pl.giants[i].terms[t].rot/S, t: &pl.giants[i].terms[t]})
		}
	}
	var fe firstError
	parallel(len(jobs), s.workers, func(i int) {
		jb := jobs[i]
		src := r.vecs[jb.j]
		v := make([]float64, n)
		shift := jb.g * S // pt = rot_{−shift}(vec)
		for k := range v {
			v[k] = src[((k-shift)%n+n)%n]
		}
		pt, err := he.Encode(s.params, v, level, ptScale)
		fe.set(err)
		jb.t.pt = pt
	})
	return s.finishPacked(pl, d, fe.err)
}

// parallel runs f(0..n−1) on at most w goroutines.
func parallel(n, w int, f func(i int)) {
	if w <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(w, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// firstError collects the first error of concurrent work.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (e *firstError) set(err error) {
	if err == nil {
		return
	}
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

// Evaluate runs the model on every group of in and returns the encrypted
// outputs (same grouping).
func (s *Server) Evaluate(in *Ciphertexts) (*Ciphertexts, error) {
	if err := s.check(in); err != nil {
		return nil, err
	}
	out := &Ciphertexts{Counts: append([]int(nil), in.Counts...), Lengths: append([]int(nil), in.Lengths...)}
	for g, group := range in.Groups {
		var res []*rlwe.Ciphertext
		var err error
		switch s.m.layout.Mode {
		case Packed:
			var ct *rlwe.Ciphertext
			if s.gs != nil {
				ct, err = s.gs.eval(group[0])
			} else {
				ct, err = s.evalPacked(group[0])
			}
			res = []*rlwe.Ciphertext{ct}
		case Slots:
			res, err = s.evalSlots(group)
		case Tokens:
			res, err = s.ffn.eval(group[0], in.Lengths[g])
		}
		if err != nil {
			return nil, fmt.Errorf("henn: group %d: %w", g, err)
		}
		out.Groups = append(out.Groups, res)
	}
	return out, nil
}

func (s *Server) check(in *Ciphertexts) error {
	if in == nil || len(in.Groups) == 0 {
		return errors.New("henn: no ciphertexts to evaluate")
	}
	if len(in.Counts) != len(in.Groups) {
		return fmt.Errorf("henn: %d groups but %d counts", len(in.Groups), len(in.Counts))
	}
	l := s.m.layout
	want := 1
	if l.Mode == Slots {
		want = l.InputDim
	}
	if l.Mode == Tokens && len(in.Lengths) != len(in.Groups) {
		return fmt.Errorf("henn: %d sentences but %d lengths", len(in.Groups), len(in.Lengths))
	}
	for g, group := range in.Groups {
		if len(group) != want {
			return fmt.Errorf("henn: group %d has %d ciphertexts, the %v layout wants %d", g, len(group), l.Mode, want)
		}
		if c := in.Counts[g]; c < 1 || c > l.PerCiphertext() {
			return fmt.Errorf("henn: group %d claims %d inputs, the %v layout holds 1…%d", g, c, l.Mode, l.PerCiphertext())
		}
		for _, ct := range group {
			if err := he.CheckCiphertext(s.params, ct); err != nil {
				return fmt.Errorf("henn: group %d: %w", g, err)
			}
			if err := he.NeedLevel(ct, l.Level); err != nil {
				return fmt.Errorf("henn: group %d: %w", g, err)
			}
			if r := ct.Scale.Float64() / s.params.DefaultScale().Float64(); math.Abs(r-1) > 1e-9 {
				return fmt.Errorf("henn: group %d: ciphertext scale 2^%.2f, the model expects inputs at 2^%.2f", g, ct.Scale.Log2(), s.params.DefaultScale().Log2())
			}
		}
		if l.Mode == Tokens && (in.Lengths[g] < 1 || in.Lengths[g] > l.Stride) {
			return fmt.Errorf("henn: sentence %d has length %d, the layout holds 1…%d tokens", g, in.Lengths[g], l.Stride)
		}
	}
	return nil
}

// atLevel returns ct dropped to level (a copy when it has to change).
func (s *Server) atLevel(ct *rlwe.Ciphertext, level int) *rlwe.Ciphertext {
	if ct.Level() == level {
		return ct
	}
	return s.eval.DropLevelNew(ct, ct.Level()-level)
}

func (s *Server) evalPacked(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	ct = s.atLevel(ct, s.m.layout.Level)
	var err error
	for _, st := range s.steps {
		if st.lin != nil {
			ct, err = s.linearPacked(ct, st)
		} else {
			ct, err = s.square(ct, st)
		}
		if err != nil {
			return nil, err
		}
	}
	return ct, nil
}

func (s *Server) square(ct *rlwe.Ciphertext, st serverStage) (*rlwe.Ciphertext, error) {
	sq, err := s.eval.MulRelinNew(ct, ct)
	if err != nil {
		return nil, fmt.Errorf("square: %w", err)
	}
	if err := s.eval.Rescale(sq, sq); err != nil {
		return nil, fmt.Errorf("square: %w", err)
	}
	sq.Scale = st.outScale
	return sq, nil
}

// rotateMany returns ct rotated by each of rots (slots), using hoisted
// rotations (one key-switch decomposition per worker) split over workers.
func (s *Server) rotateMany(ct *rlwe.Ciphertext, rots []int) (map[int]*rlwe.Ciphertext, error) {
	out := map[int]*rlwe.Ciphertext{}
	var nz []int
	for _, r := range rots {
		if r == 0 {
			out[0] = ct
		} else {
			nz = append(nz, r)
		}
	}
	w := min(s.workers, len(nz))
	if w == 0 {
		return out, nil
	}
	var mu sync.Mutex
	var fe firstError
	parallel(w, w, func(i int) {
		var chunk []int
		for j := i; j < len(nz); j += w {
			chunk = append(chunk, nz[j])
		}
		m, err := s.evaluator(i).RotateHoistedNew(ct, chunk)
		if err != nil {
			fe.set(err)
			return
		}
		mu.Lock()
		for r, c := range m {
			out[r] = c
		}
		mu.Unlock()
	})
	return out, fe.err
}

func (s *Server) linearPacked(ct *rlwe.Ciphertext, st serverStage) (*rlwe.Ciphertext, error) {
	pl := st.packed
	S := s.m.layout.Stride
	babies := pl.d.babies
	if pl.d.rep != nil {
		babies = pl.d.rep.babies
	}
	babyRots := make([]int, len(babies))
	for i, b := range babies {
		babyRots[i] = b * S
	}
	rotated, err := s.rotateMany(ct, babyRots)
	if err != nil {
		return nil, fmt.Errorf("baby steps: %w", err)
	}
	total, err := s.giantSteps(pl.giants, func(r int) *rlwe.Ciphertext { return rotated[r] })
	if err != nil {
		return nil, err
	}
	if err := s.eval.Rescale(total, total); err != nil {
		return nil, err
	}
	total.Scale = st.outScale
	if pl.d.rep != nil {
		for _, r := range pl.d.rep.posSum {
			rot, err := s.eval.RotateNew(total, r)
			if err != nil {
				return nil, fmt.Errorf("adding the copies: %w", err)
			}
			if err := s.eval.Add(total, rot, total); err != nil {
				return nil, err
			}
		}
	}
	for _, r := range pl.d.sum {
		rot, err := s.eval.RotateNew(total, r*S)
		if err != nil {
			return nil, fmt.Errorf("rotate-and-add: %w", err)
		}
		if err := s.eval.Add(total, rot, total); err != nil {
			return nil, err
		}
	}
	if pl.bias != nil {
		if err := s.eval.Add(total, pl.bias, total); err != nil {
			return nil, fmt.Errorf("bias: %w", err)
		}
	}
	return total, nil
}

// evaluator returns worker i's evaluator: its own from the pool when the
// pool has one, else the shared one.
// rotateInto adds acc rotated by rot (in place; 0: not rotated) to *sum,
// or makes it *sum when *sum is nil: the end of one giant step, whose
// partial sums are added once all steps of a worker are done.
func rotateInto(ev *ckks.Evaluator, sum **rlwe.Ciphertext, acc *rlwe.Ciphertext, rot int) error {
	if rot != 0 {
		if err := ev.Rotate(acc, rot, acc); err != nil {
			return err
		}
	}
	if *sum == nil {
		*sum = acc
		return nil
	}
	return ev.Add(*sum, acc, *sum)
}

func (s *Server) evaluator(i int) *ckks.Evaluator {
	if i < len(s.pool) {
		return s.pool[i]
	}
	return s.eval
}

// giantSteps computes Σ_g rot_g(Σ_i pt_{g,i} ⊙ baby_i), the giant steps
// spread over the workers; the result is not rescaled.
func (s *Server) giantSteps(giants []giantStep, baby func(rot int) *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	w := max(1, min(s.workers, len(giants)))
	partial := make([]*rlwe.Ciphertext, w)
	var fe firstError
	parallel(w, w, func(wi int) {
		ev := s.evaluator(wi)
		for gi := wi; gi < len(giants); gi += w {
			g := giants[gi]
			var acc *rlwe.Ciphertext
			for _, t := range g.terms {
				x := baby(t.rot)
				if acc == nil {
					var err error
					if acc, err = ev.MulNew(x, t.pt); err != nil {
						fe.set(err)
						return
					}
					continue
				}
				if err := ev.MulThenAdd(x, t.pt, acc); err != nil {
					fe.set(err)
					return
				}
			}
			if acc == nil {
				continue
			}
			if err := rotateInto(ev, &partial[wi], acc, g.rot); err != nil {
				fe.set(err)
				return
			}
		}
	})
	if fe.err != nil {
		return nil, fe.err
	}
	var total *rlwe.Ciphertext
	for _, p := range partial {
		if p == nil {
			continue
		}
		if total == nil {
			total = p
		} else if err := s.eval.Add(total, p, total); err != nil {
			return nil, err
		}
	}
	if total == nil {
		return nil, errors.New("linear map has no nonzero diagonal")
	}
	return total, nil
}

func (s *Server) evalSlots(in []*rlwe.Ciphertext) ([]*rlwe.Ciphertext, error) {
	cur := make([]*rlwe.Ciphertext, len(in))
	for i, ct := range in {
		cur[i] = s.atLevel(ct, s.m.layout.Level)
	}
	for _, st := range s.steps {
		var next []*rlwe.Ciphertext
		var fe firstError
		if st.lin == nil {
			next = make([]*rlwe.Ciphertext, len(cur))
			parallel(len(cur), s.workers, func(i int) {
				c, err := s.square(cur[i], st)
				fe.set(err)
				next[i] = c
			})
		} else {
			var err error
			if next, err = s.linearSlots(cur, st); err != nil {
				return nil, err
			}
		}
		if fe.err != nil {
			return nil, fe.err
		}
		cur = next
	}
	return cur, nil
}

// finishPacked reports an encoding error of the diagonal workers, and
// otherwise attaches the bias (in the packed layout), skipped when it is zero
// so that the evaluation saves the plaintext addition.
func (s *Server) finishPacked(pl *packedLinear, d *diagMap, encErr error) (*packedLinear, error) {
	if encErr != nil {
		return nil, fmt.Errorf("henn: encoding diagonals: %w", encErr)
	}
	for _, b := range d.bias {
		if b != 0 {
			pl.bias = slotVector(d.bias, 0, s.m.layout.Block, s.m.layout.Stride)
			break
		}
	}
	return pl, nil
}
