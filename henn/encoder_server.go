package henn

import (
	"errors"
	"fmt"
	"math"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// EncoderInput is what a client sends for one sentence: the token matrix
// and the mask (1/n in the blocks of the n real tokens, 0 in the padding),
// both encrypted. The sentence length travels only inside the mask.
type EncoderInput struct {
	X, Mask *rlwe.Ciphertext
}

// BinarySize is the serialized size in bytes of both ciphertexts.
func (in *EncoderInput) BinarySize() int64 {
	return int64(in.X.BinarySize() + in.Mask.BinarySize())
}

// EncoderServer evaluates an [EncoderModel] on ciphertexts with the
// client's public evaluation keys only. Safe for concurrent use: every
// evaluation takes its own evaluators.
type EncoderServer struct {
	m      *EncoderModel
	params ckks.Parameters
	keys   *rlwe.MemEvaluationKeySet
	w      *EncoderWeights
	maps   map[*tokenMap]*mapServer // w.maps
}

// EncoderWeights is the key-independent part of an [EncoderServer]: the
// model with its diagonals encoded as plaintexts, up to 1 GiB of them (the
// rest are kept as slot vectors and encoded at each evaluation). A service
// with many clients encodes them once ([EncodeEncoderWeights]) and builds
// each client's server with [EncoderWeights.NewServer], so only the
// evaluation keys are per client: for the one-layer SST-2 encoder at LogN
// 14 the cache is 966 MB, which every session used to hold a copy of.
// Nothing in it depends on a key, and evaluation only reads it, so any
// number of servers may share it concurrently.
type EncoderWeights struct {
	m    *EncoderModel
	maps map[*tokenMap]*mapServer
}

// mapServer is the encoded form of a token map's giant steps: the encoded
// plaintexts, or (lazy) the slot vectors to encode at every evaluation.
type mapServer struct {
	giants []giantStep
	lazy   map[*babyTerm][]float64
}

// maxCachedEncoderBytes bounds the encoded diagonals an EncoderWeights
// keeps; the rest are encoded at every evaluation.
var maxCachedEncoderBytes int64 = 1 << 30 // a variable for the tests of the lazy path

// NewEncoderServer checks that evk matches m (parameters, relinearization
// key, every rotation) and encodes the diagonals that fit the cache, for
// this server alone: [EncodeEncoderWeights] then [EncoderWeights.NewServer].
func NewEncoderServer(m *EncoderModel, evk *he.EvaluationKeys) (*EncoderServer, error) {
	if m == nil || evk == nil {
		return nil, errors.New("henn: nil encoder model or evaluation keys")
	}
	// The keys first: they are cheap to check, the encoding is not.
	if err := checkEncoderKeys(m, evk); err != nil {
		return nil, err
	}
	w, err := EncodeEncoderWeights(m)
	if err != nil {
		return nil, err
	}
	return w.NewServer(evk)
}

// NewServer checks that evk matches the model (parameters,
// relinearization key, every rotation) and returns a server for those keys
// that shares w's encoded diagonals.
func (w *EncoderWeights) NewServer(evk *he.EvaluationKeys) (*EncoderServer, error) {
	if evk == nil {
		return nil, errors.New("henn: nil evaluation keys")
	}
	if err := checkEncoderKeys(w.m, evk); err != nil {
		return nil, err
	}
	return &EncoderServer{m: w.m, params: w.m.layout.Params, keys: evk.KeySet(), w: w, maps: w.maps}, nil
}

// checkEncoderKeys reports why evk cannot evaluate m.
func checkEncoderKeys(m *EncoderModel, evk *he.EvaluationKeys) error {
	params := m.layout.Params
	if !evk.Params.Equal(&params) {
		return fmt.Errorf("henn: evaluation keys are for other parameters (LogN %d, %d levels; the encoder wants LogN %d, %d levels)",
			evk.Params.LogN(), evk.Params.MaxLevel(), params.LogN(), params.MaxLevel())
	}
	if evk.Relin == nil {
		return errors.New("henn: evaluation keys lack the relinearization key")
	}
	rots := m.Rotations()
	var missing []int
	for _, r := range rots {
		if !evk.HasRotation(r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("henn: evaluation keys lack %d of the %d rotations the encoder needs (first: %d); generate them with Client.EvaluationKeys(model.Rotations())", len(missing), len(rots), missing[0])
	}
	return nil
}

// EncodeEncoderWeights encodes m's diagonals map by map, in the order of
// evaluation, each map whose plaintexts fit in what is left of 1 GiB; the
// other maps are kept as slot vectors and encoded at every evaluation.
func EncodeEncoderWeights(m *EncoderModel) (*EncoderWeights, error) {
	if m == nil {
		return nil, errors.New("henn: nil encoder model")
	}
	params := m.layout.Params
	w := &EncoderWeights{m: m, maps: map[*tokenMap]*mapServer{}}
	budget := maxCachedEncoderBytes
	ecds := make([]*ckks.Encoder, m.workers)
	for i := range ecds {
		ecds[i] = ckks.NewEncoder(params)
	}
	for _, t := range m.maps() {
		ms := &mapServer{giants: make([]giantStep, len(t.giants)), lazy: map[*babyTerm][]float64{}}
		for gi, g := range t.giants {
			ms.giants[gi] = giantStep{rot: g.rot, terms: append([]babyTerm(nil), g.terms...)}
		}
		w.maps[t] = ms
		size := int64(params.N()) * int64(t.level+1) * 8 * int64(len(t.diags))
		cache := size <= budget
		if cache {
			budget -= size
		}
		type job struct {
			bt  *babyTerm
			vec []float64
		}
		var jobs []job
		for gi := range ms.giants {
			g := &ms.giants[gi]
			for ti := range g.terms {
				bt := &g.terms[ti]
				r := g.rot + bt.rot
				// the diagonal's offset in (−B, B)
				r = mod(r, m.layout.Period())
				if r > m.layout.Period()/2 {
					r -= m.layout.Period()
				}
				v := m.diagVector(t, r, g.rot)
				if cache {
					jobs = append(jobs, job{bt, v})
				} else {
					ms.lazy[bt] = v
				}
			}
		}
		var fe firstError
		parallel(len(ecds), len(ecds), func(wi int) {
			for j := wi; j < len(jobs); j += len(ecds) {
				pt, err := encodeWith(ecds[wi], params, jobs[j].vec, t.level, t.ptScale)
				fe.set(err)
				jobs[j].bt.pt = pt
			}
		})
		if fe.err != nil {
			return nil, fmt.Errorf("henn: encoding the %s diagonals: %w", t.name, fe.err)
		}
	}
	return w, nil
}

func encodeWith(ecd *ckks.Encoder, params ckks.Parameters, v []float64, level int, scale rlwe.Scale) (*rlwe.Plaintext, error) {
	pt := ckks.NewPlaintext(params, level)
	pt.Scale = scale
	if err := ecd.Encode(v, pt); err != nil {
		return nil, err
	}
	return pt, nil
}

// encWorker is one evaluation's set of evaluators: a henn Server shell
// (for the shared baby-step/giant-step code) with one evaluator and one
// encoder per worker.
type encWorker struct {
	sv   *Server
	ecds []*ckks.Encoder
	m    *EncoderModel
	maps map[*tokenMap]*mapServer
}

func (s *EncoderServer) newWorker() *encWorker {
	w := s.m.workers
	pool := make([]*ckks.Evaluator, w)
	ecds := make([]*ckks.Encoder, w)
	for i := range pool {
		pool[i] = ckks.NewEvaluator(s.params, s.keys)
		ecds[i] = ckks.NewEncoder(s.params)
	}
	return &encWorker{sv: &Server{params: s.params, eval: pool[0], workers: w, pool: pool}, ecds: ecds, m: s.m, maps: s.maps}
}

// check reports why in cannot be evaluated.
func (s *EncoderServer) check(in *EncoderInput) error {
	if in == nil {
		return errors.New("henn: no encrypted sentence")
	}
	for _, c := range []struct {
		name string
		ct   *rlwe.Ciphertext
	}{{"token matrix", in.X}, {"mask", in.Mask}} {
		if err := he.CheckCiphertext(s.params, c.ct); err != nil {
			return fmt.Errorf("henn: %s: %w", c.name, err)
		}
		if c.ct.Level() != s.m.layout.Level {
			return fmt.Errorf("henn: %s at level %d, the encoder expects inputs encrypted at level %d", c.name, c.ct.Level(), s.m.layout.Level)
		}
		if r := c.ct.Scale.Float64() / s.params.DefaultScale().Float64(); math.Abs(r-1) > 1e-9 {
			return fmt.Errorf("henn: %s has scale 2^%.2f, the encoder expects 2^%.2f", c.name, c.ct.Scale.Log2(), s.params.DefaultScale().Log2())
		}
	}
	return nil
}

// Evaluate runs the encoder on one encrypted sentence and returns the
// encrypted logits (logit c in slot c·Layout().ClassStride).
func (s *EncoderServer) Evaluate(in *EncoderInput) (*rlwe.Ciphertext, error) {
	if err := s.check(in); err != nil {
		return nil, err
	}
	w := s.newWorker()
	x := in.X
	var out *rlwe.Ciphertext
	for l, lp := range s.m.layers {
		var err error
		if x, out, err = w.layer(lp, x, in.Mask, l == len(s.m.layers)-1); err != nil {
			return nil, fmt.Errorf("henn: encoder layer %d: %w", l, err)
		}
	}
	return out, nil
}

func (w *encWorker) atLevel(ct *rlwe.Ciphertext, level int) *rlwe.Ciphertext {
	return w.sv.atLevel(ct, level)
}

// apply evaluates maps that read the same ciphertext x (hoisted baby
// rotations shared), each rescaled to its output scale with its bias.
func (w *encWorker) apply(x *rlwe.Ciphertext, babies []int, maps ...*tokenMap) ([]*rlwe.Ciphertext, error) {
	sv := w.sv
	x = w.atLevel(x, maps[0].level)
	rotated, err := sv.rotateMany(x, babies)
	if err != nil {
		return nil, fmt.Errorf("baby steps: %w", err)
	}
	baby := func(r int) *rlwe.Ciphertext { return rotated[r] }
	out := make([]*rlwe.Ciphertext, len(maps))
	for i, t := range maps {
		var acc *rlwe.Ciphertext
		// Lazy maps are encoded a few giant steps at a time, which bounds
		// the plaintexts alive at once.
		const chunk = 4
		ms := w.maps[t]
		for lo := 0; lo < len(ms.giants); lo += chunk {
			giants := ms.giants[lo:min(lo+chunk, len(ms.giants))]
			if len(ms.lazy) > 0 {
				if giants, err = w.encode(t, ms.lazy, giants); err != nil {
					return nil, err
				}
			}
			part, err := sv.giantSteps(giants, baby)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			if acc == nil {
				acc = part
			} else if err := sv.eval.Add(acc, part, acc); err != nil {
				return nil, err
			}
		}
		if err := sv.eval.Rescale(acc, acc); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		acc.Scale = t.out
		if t.bias != nil {
			if err := sv.eval.Add(acc, w.m.tile(t.bias), acc); err != nil {
				return nil, fmt.Errorf("%s bias: %w", t.name, err)
			}
		}
		out[i] = acc
	}
	return out, nil
}

// encode encodes the plaintexts of giants of a lazy map.
func (w *encWorker) encode(t *tokenMap, lazy map[*babyTerm][]float64, giants []giantStep) ([]giantStep, error) {
	out := make([]giantStep, len(giants))
	type job struct {
		dst *babyTerm
		vec []float64
	}
	var jobs []job
	for k := range giants {
		out[k] = giantStep{rot: giants[k].rot, terms: make([]babyTerm, len(giants[k].terms))}
		for i := range giants[k].terms {
			out[k].terms[i].rot = giants[k].terms[i].rot
			jobs = append(jobs, job{&out[k].terms[i], lazy[&giants[k].terms[i]]})
		}
	}
	var fe firstError
	n := len(w.ecds)
	parallel(n, n, func(wi int) {
		for j := wi; j < len(jobs); j += n {
			pt, err := encodeWith(w.ecds[wi], w.m.layout.Params, jobs[j].vec, t.level, t.ptScale)
			fe.set(err)
			jobs[j].dst.pt = pt
		}
	})
	if fe.err != nil {
		return nil, fmt.Errorf("encoding the %s diagonals: %w", t.name, fe.err)
	}
	return out, nil
}

// mulRescale returns a⊙b relinearized and rescaled, at scale out.
func mulRescale(ev *ckks.Evaluator, a, b *rlwe.Ciphertext, out rlwe.Scale) (*rlwe.Ciphertext, error) {
	c, err := ev.MulRelinNew(a, b)
	if err != nil {
		return nil, err
	}
	if err := ev.Rescale(c, c); err != nil {
		return nil, err
	}
	c.Scale = out
	return c, nil
}

// layer evaluates one encoder layer on x (level lp.level, scale Δ) and
// returns the next layer's input, or, for the last layer, the logits.
func (w *encWorker) layer(lp *encLayerPlan, x, mask *rlwe.Ciphertext, last bool) (next, logits *rlwe.Ciphertext, err error) {
	sv, m := w.sv, w.m
	ev := sv.eval
	L := lp.level
	B := m.layout.Block
	delta := m.layout.Params.DefaultScale()

	// Stage A: Q, K, V, Norm·x, FFNIn·Norm·x from x.
	a, err := w.apply(x, lp.babiesA, lp.q, lp.k, lp.v, lp.nx, lp.ux)
	if err != nil {
		return nil, nil, err
	}
	q, k, v, nx, ux := a[0], a[1], a[2], a[3], a[4]
	vm, err := mulRescale(ev, v, w.atLevel(mask, L-1), delta)
	if err != nil {
		return nil, nil, fmt.Errorf("masking V: %w", err)
	}

	// Attention: baby shifts of K and v⊙m, giant shifts of q.
	n1, n2 := m.n1, m.n2
	var babyRots, giantRots []int
	for a := 1; a < n1; a++ {
		babyRots = append(babyRots, m.rot(a*B))
	}
	for b := 1; b < n2; b++ {
		giantRots = append(giantRots, m.rot(-n1*b*B))
	}
	ks, err := sv.rotateMany(k, babyRots)
	if err != nil {
		return nil, nil, fmt.Errorf("shifting K: %w", err)
	}
	ks[0] = k
	vs, err := sv.rotateMany(vm, babyRots)
	if err != nil {
		return nil, nil, fmt.Errorf("shifting V: %w", err)
	}
	vs[0] = vm
	for r, c := range vs {
		vs[r] = w.atLevel(c, L-3)
	}
	qs, err := sv.rotateMany(q, giantRots)
	if err != nil {
		return nil, nil, fmt.Errorf("shifting Q: %w", err)
	}
	qs[0] = q
	workers := len(sv.pool)
	partial := make([]*rlwe.Ciphertext, workers)
	var fe firstError
	parallel(workers, workers, func(wi int) {
		ev := sv.evaluator(wi)
		for b := wi; b < n2; b += workers {
			qb := qs[m.rot(-n1*b*B)]
			var acc *rlwe.Ciphertext
			for a := range n1 {
				s, err := mulRescale(ev, qb, ks[m.rot(a*B)], lp.sS)
				if err != nil {
					fe.set(fmt.Errorf("scores: %w", err))
					return
				}
				for r := m.layout.Heads; r < m.layout.Dim; r <<= 1 {
					rs, err := ev.RotateNew(s, r)
					if err != nil {
						fe.set(fmt.Errorf("summing a head: %w", err))
						return
					}
					if err := ev.Add(s, rs, s); err != nil {
						fe.set(err)
						return
					}
				}
				if err := ev.Add(s, m.shift, s); err != nil {
					fe.set(err)
					return
				}
				sq, err := mulRescale(ev, s, s, lp.sA)
				if err != nil {
					fe.set(fmt.Errorf("squaring scores: %w", err))
					return
				}
				if acc == nil {
					if acc, err = ev.MulNew(sq, vs[m.rot(a*B)]); err != nil {
						fe.set(err)
						return
					}
				} else if err := ev.MulThenAdd(sq, vs[m.rot(a*B)], acc); err != nil {
					fe.set(err)
					return
				}
			}
			if err := ev.Relinearize(acc, acc); err != nil {
				fe.set(err)
				return
			}
			if err := ev.Rescale(acc, acc); err != nil {
				fe.set(err)
				return
			}
			acc.Scale = delta
			rot := 0
			if b != 0 {
				rot = m.rot(n1 * b * B)
			}
			if err := rotateInto(ev, &partial[wi], acc, rot); err != nil {
				fe.set(fmt.Errorf("attention giant step: %w", err))
				return
			}
		}
	})
	if fe.err != nil {
		return nil, nil, fe.err
	}
	o := partial[0]
	for _, p := range partial[1:] {
		if p != nil {
			if err := ev.Add(o, p, o); err != nil {
				return nil, nil, err
			}
		}
	}
	od, err := ev.RotateNew(o, m.rot(-m.layout.Dim))
	if err != nil {
		return nil, nil, fmt.Errorf("duplicating the attention output: %w", err)
	}
	if err := ev.Add(o, od, o); err != nil {
		return nil, nil, err
	}

	// Stage B: h = Norm·(x + O·o), u = FFNIn·h + t.
	hu, err := w.apply(o, lp.babiesB, lp.h, lp.u)
	if err != nil {
		return nil, nil, err
	}
	h, u := hu[0], hu[1]
	if err := ev.Add(h, w.atLevel(nx, L-5), h); err != nil {
		return nil, nil, err
	}
	if err := ev.Add(u, w.atLevel(ux, L-5), u); err != nil {
		return nil, nil, err
	}
	sq, err := mulRescale(ev, u, u, lp.sSq)
	if err != nil {
		return nil, nil, fmt.Errorf("FFN activation: %w", err)
	}
	if !last {
		f, err := w.apply(sq, lp.babiesC, lp.f)
		if err != nil {
			return nil, nil, err
		}
		y := f[0]
		if err := ev.Add(y, w.atLevel(h, L-7), y); err != nil {
			return nil, nil, err
		}
		return y, nil, nil
	}
	gh, err := w.apply(h, lp.babiesH, lp.gh)
	if err != nil {
		return nil, nil, err
	}
	gf, err := w.apply(sq, lp.babiesC, lp.gf)
	if err != nil {
		return nil, nil, err
	}
	z := gf[0]
	if err := ev.Add(z, w.atLevel(gh[0], L-7), z); err != nil {
		return nil, nil, err
	}
	z, err = mulRescale(ev, z, w.atLevel(mask, L-7), delta)
	if err != nil {
		return nil, nil, fmt.Errorf("pooling mask: %w", err)
	}
	// Mean pooling: the class partials over a class's positions, then over
	// the tokens.
	for r := 1; r < m.layout.ClassStride; r <<= 1 {
		if err := rotateAdd(ev, z, r); err != nil {
			return nil, nil, fmt.Errorf("pooling: %w", err)
		}
	}
	for r := B; r < m.layout.Period(); r <<= 1 {
		if err := rotateAdd(ev, z, m.rot(r)); err != nil {
			return nil, nil, fmt.Errorf("pooling: %w", err)
		}
	}
	if m.classB != nil {
		if err := ev.Add(z, m.tile(m.classB), z); err != nil {
			return nil, nil, err
		}
	}
	return nil, z, nil
}

func rotateAdd(ev *ckks.Evaluator, ct *rlwe.Ciphertext, r int) error {
	rc, err := ev.RotateNew(ct, r)
	if err != nil {
		return err
	}
	return ev.Add(ct, rc, ct)
}
