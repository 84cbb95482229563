package henn

import (
	"errors"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Weights is the key-independent part of a [Server]: the model with its
// weights encoded once as plaintexts (the Packed and Tokens diagonals). A
// service with many clients encodes them once and builds each client's
// Server from them with [Weights.NewServer], so only the evaluation keys
// and an evaluator are per client; for the 784-128-10 MNIST MLP the
// encoded diagonals are 37 MB that every session used to hold a copy of.
type Weights struct {
	s *Server // no evaluator
}

// EncodeWeights encodes m's weights for serving.
func EncodeWeights(m *Model) (*Weights, error) {
	if m == nil {
		return nil, errors.New("henn: nil model")
	}
	s := &Server{m: m, params: m.layout.Params, workers: m.opts.workers()}
	if err := s.encodeWeights(); err != nil {
		return nil, err
	}
	return &Weights{s: s}, nil
}

// NewServer returns a Server for one client's evaluation keys that shares
// w's encoded weights (read-only during evaluation, so any number of
// Servers may share them concurrently).
func (w *Weights) NewServer(evk *he.EvaluationKeys) (*Server, error) {
	if w.s.m.NeedsBootstrapKeys() {
		return nil, errors.New("henn: the model bootstraps and needs the client's bootstrapping keys: use NewBootstrapServer")
	}
	if err := checkKeys(w.s.m, evk); err != nil {
		return nil, err
	}
	s := *w.s
	s.eval = ckks.NewEvaluator(s.params, evk.KeySet())
	if w.s.ffn != nil {
		f := *w.s.ffn
		f.s = &s
		s.ffn = &f
	}
	if w.s.gs != nil {
		g := *w.s.gs
		g.s = &s
		s.gs = &g
	}
	return &s, nil
}

// Size is the number of bytes of the encoded plaintexts w holds.
func (w *Weights) Size() int64 {
	var n int64
	add := func(pl *packedLinear) {
		if pl == nil {
			return
		}
		for _, g := range pl.giants {
			for _, t := range g.terms {
				n += int64(t.pt.BinarySize())
			}
		}
	}
	for _, st := range w.s.steps {
		add(st.packed)
	}
	if w.s.ffn != nil {
		for _, pl := range w.s.ffn.blocks {
			add(pl)
		}
	}
	return n
}
