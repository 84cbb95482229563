package llama2c

import (
	"errors"
	"fmt"
	"github.com/krelu/krelu/internal/logits"
	"math"
)

// SiLU is the activation of llama2.c's SwiGLU block: x·σ(x).
func SiLU(x float64) float64 { return x / (1 + math.Exp(-x)) }

// FFNHook receives the FFN pre-activations of one layer at one position:
// pre[i] = (w1·rmsnorm(x))_i, the values the activation is applied to. pre
// is reused after the call returns; copy what you keep.
type FFNHook func(layer, pos int, pre []float64)

// State is the mutable part of a forward pass: activations and the
// key/value cache of one sequence. A State is not safe for concurrent use;
// give each goroutine its own (the Model is read-only and shared).
type State struct {
	m                    *Model
	x, xb, xb2           []float64 // Dim
	q                    []float64 // Dim
	k, v                 []float64 // KVDim
	hb, hb2              []float64 // HiddenDim
	att                  []float64 // SeqLen
	logits               []float64 // VocabSize
	keyCache, valueCache []float64 // NLayers × SeqLen × KVDim
	act                  []func(float64) float64
	hook                 FFNHook
}

// NewState allocates a forward-pass state with SiLU in every layer.
func (m *Model) NewState() *State {
	c := m.Config
	kv := c.KVDim()
	s := &State{
		m:          m,
		x:          make([]float64, c.Dim),
		xb:         make([]float64, c.Dim),
		xb2:        make([]float64, c.Dim),
		q:          make([]float64, c.Dim),
		k:          make([]float64, kv),
		v:          make([]float64, kv),
		hb:         make([]float64, c.HiddenDim),
		hb2:        make([]float64, c.HiddenDim),
		att:        make([]float64, c.SeqLen),
		logits:     make([]float64, c.VocabSize),
		keyCache:   make([]float64, c.NLayers*c.SeqLen*kv),
		valueCache: make([]float64, c.NLayers*c.SeqLen*kv),
		act:        make([]func(float64) float64, c.NLayers),
	}
	s.SetActivation(nil)
	return s
}

// SetActivation replaces the FFN activation of every layer by f, so that
// the block computes w2(f(w1·x) ⊙ w3·x). nil restores SiLU.
func (s *State) SetActivation(f func(float64) float64) {
	for l := range s.act {
		s.SetLayerActivation(l, f)
	}
}

// SetLayerActivation replaces the FFN activation of one layer; nil
// restores SiLU. It panics on a layer index out of range, a programming
// error.
func (s *State) SetLayerActivation(layer int, f func(float64) float64) {
	if f == nil {
		f = SiLU
	}
	s.act[layer] = f
}

// SetFFNHook installs h (nil removes it); it is called in every layer of
// every Forward with the pre-activations of that layer.
func (s *State) SetFFNHook(h FFNHook) { s.hook = h }

// Forward feeds token at position pos and returns the next-token logits.
// Positions must be fed in order 0, 1, 2, … within one sequence (the cache
// holds positions < pos); start a new sequence at pos 0. The returned slice
// is reused by the next call. When the residual stream overflows (a
// diverging activation) it returns NaN logits and an error wrapping
// ErrDiverged.
func (s *State) Forward(token, pos int) ([]float64, error) {
	m := s.m
	c := m.Config
	if token < 0 || token >= c.VocabSize {
		return nil, fmt.Errorf("llama2c: token %d out of range [0, %d)", token, c.VocabSize)
	}
	if pos < 0 || pos >= c.SeqLen {
		return nil, fmt.Errorf("llama2c: position %d out of range [0, %d)", pos, c.SeqLen)
	}
	dim, kvDim, hs := c.Dim, c.KVDim(), c.HeadSize()
	kvMul := c.NHeads / c.NKVHeads
	x := s.x
	for i, w := range m.TokenEmbedding[token*dim : (token+1)*dim] {
		x[i] = float64(w)
	}
	half := hs / 2
	fcr := m.FreqCisReal[pos*half : (pos+1)*half]
	fci := m.FreqCisImag[pos*half : (pos+1)*half]
	scale := 1 / math.Sqrt(float64(hs))
	bad := -1 // first layer whose input was not finite
	for l := range m.Layers {
		L := &m.Layers[l]
		if !rmsnorm(s.xb, x, L.RMSAtt) && bad < 0 {
			bad = l
		}
		matmul(s.q, s.xb, L.WQ)
		matmul(s.k, s.xb, L.WK)
		matmul(s.v, s.xb, L.WV)
		rope(s.q, fcr, fci, hs)
		rope(s.k, fcr, fci, hs)
		loff := l * c.SeqLen * kvDim
		copy(s.keyCache[loff+pos*kvDim:], s.k)
		copy(s.valueCache[loff+pos*kvDim:], s.v)

		for h := range c.NHeads {
			q := s.q[h*hs : (h+1)*hs]
			kvOff := (h / kvMul) * hs
			att := s.att[:pos+1]
			for t := range att {
				k := s.keyCache[loff+t*kvDim+kvOff : loff+t*kvDim+kvOff+hs]
				var dot float64
				for i := range q {
					dot += q[i] * k[i]
				}
				att[t] = dot * scale
			}
			logits.Softmax(att)
			out := s.xb[h*hs : (h+1)*hs]
			clear(out)
			for t, a := range att {
				v := s.valueCache[loff+t*kvDim+kvOff : loff+t*kvDim+kvOff+hs]
				for i := range out {
					out[i] += a * v[i]
				}
			}
		}
		matmul(s.xb2, s.xb, L.WO)
		for i := range x {
			x[i] += s.xb2[i]
		}

		if !rmsnorm(s.xb, x, L.RMSFFN) && bad < 0 {
			bad = l
		}
		matmul(s.hb, s.xb, L.W1)
		matmul(s.hb2, s.xb, L.W3)
		if s.hook != nil {
			s.hook(l, pos, s.hb)
		}
		f := s.act[l]
		for i := range s.hb {
			s.hb[i] = f(s.hb[i]) * s.hb2[i]
		}
		matmul(s.xb, s.hb, L.W2)
		for i := range x {
			x[i] += s.xb[i]
		}
	}
	if !rmsnorm(x, x, m.RMSFinal) && bad < 0 {
		bad = len(m.Layers)
	}
	matmul(s.logits, x, m.Classifier)
	if bad >= 0 {
		return s.logits, fmt.Errorf("llama2c: position %d, layer %d: %w", pos, bad, ErrDiverged)
	}
	return s.logits, nil
}

// ErrDiverged is returned (wrapped) by Forward when the residual stream is
// no longer finite: a polynomial activation far outside its interval does
// this. RMSNorm used to scale the infinite stream to zeros, and greedy
// decoding then emitted token 0 forever without a word. The logits are NaN
// and so is this position's key/value cache, so that later positions of
// the sequence diverge too instead of attending to stale values.
var ErrDiverged = errors.New("the residual stream is no longer finite (the FFN activation diverged)")

// rmsnorm sets o = w ⊙ x / sqrt(mean(x²) + 1e-5); o may alias x. When
// Σx² is not finite it sets o to NaN, so that the failure propagates,
// and reports false.
func rmsnorm(o, x []float64, w []float32) bool {
	var ss float64
	for _, v := range x {
		ss += v * v
	}
	if math.IsInf(ss, 0) || math.IsNaN(ss) {
		for i := range o {
			o[i] = math.NaN()
		}
		return false
	}
	inv := 1 / math.Sqrt(ss/float64(len(x))+1e-5)
	for i := range o {
		o[i] = float64(w[i]) * inv * x[i]
	}
	return true
}

// matmul sets out = W·x with W row-major (len(out) × len(x)).
func matmul(out, x []float64, w []float32) {
	n := len(x)
	for i := range out {
		row := w[i*n : (i+1)*n : (i+1)*n]
		var sum float64
		for j, v := range row {
			sum += float64(v) * x[j]
		}
		out[i] = sum
	}
}

// rope rotates each (even, odd) pair of every head of v by the position's
// angle, as llama2.c does with its stored tables.
func rope(v []float64, fcr, fci []float32, hs int) {
	for i := 0; i < len(v); i += 2 {
		j := (i % hs) / 2
		cr, ci := float64(fcr[j]), float64(fci[j])
		a, b := v[i], v[i+1]
		v[i] = a*cr - b*ci
		v[i+1] = a*ci + b*cr
	}
}
