package serve

import (
	"fmt"
	"sync/atomic"

	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/henn"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// backend is what a Handler serves: a compiled network (henn.Model) or a
// transformer encoder (henn.EncoderModel). The sessions, keys, limits and
// HTTP are the Handler's, the same for both.
type backend interface {
	params() ckks.Parameters
	rotations() []int
	// newEvaluator makes a session's evaluator from the client's keys and
	// returns the bytes it holds besides the keys.
	newEvaluator(evk *he.EvaluationKeys) (evaluator, int64, error)
	// extraHint is the last newEvaluator's extra bytes (0 before the
	// first): admission tests a new key set with it before doing the work.
	extraHint() int64
	// checkBatch reports why a decoded batch does not have the shape the
	// model takes, before an evaluation slot is taken.
	checkBatch(in *henn.Ciphertexts) error
	// sharedBytes is the encoded weights shared by all sessions.
	sharedBytes() int64
}

type evaluator interface {
	Evaluate(in *henn.Ciphertexts) (*henn.Ciphertexts, error)
}

// network serves a henn.Model: weights encoded once, shared by sessions.
type network struct {
	m *henn.Model
	w *henn.Weights
}

func (n *network) params() ckks.Parameters               { return n.m.Params() }
func (n *network) rotations() []int                      { return n.m.Rotations() }
func (n *network) extraHint() int64                      { return 0 }
func (n *network) checkBatch(in *henn.Ciphertexts) error { return nil } // henn.Server.Evaluate checks
func (n *network) sharedBytes() int64                    { return n.w.Size() }

func (n *network) newEvaluator(evk *he.EvaluationKeys) (evaluator, int64, error) {
	srv, err := n.w.NewServer(evk)
	return srv, 0, err
}

// encoder serves a henn.EncoderModel: every session has its own
// henn.EncoderServer (which keeps its own encoded diagonals).
type encoder struct {
	m     *henn.EncoderModel
	extra atomic.Int64
}

func (e *encoder) params() ckks.Parameters { return e.m.Params() }
func (e *encoder) rotations() []int        { return e.m.Rotations() }
func (e *encoder) extraHint() int64        { return e.extra.Load() }
func (e *encoder) sharedBytes() int64      { return 0 }

func (e *encoder) newEvaluator(evk *he.EvaluationKeys) (evaluator, int64, error) {
	srv, err := henn.NewEncoderServer(e.m, evk)
	if err != nil {
		return nil, 0, err
	}
	n := srv.Size()
	e.extra.Store(n)
	return encoderEval{srv}, n, nil
}

// EncoderCiphertexts is the number of ciphertexts of one sentence: the
// token matrix and the length mask.
const EncoderCiphertexts = 2

func (e *encoder) checkBatch(in *henn.Ciphertexts) error {
	for g, group := range in.Groups {
		if len(group) != EncoderCiphertexts {
			return fmt.Errorf("sentence %d has %d ciphertexts; the encoder takes %d per sentence (token matrix, length mask)", g, len(group), EncoderCiphertexts)
		}
		if in.Counts[g] != 1 {
			return fmt.Errorf("sentence %d claims %d inputs; the encoder takes one sentence per group", g, in.Counts[g])
		}
		if in.Lengths != nil && in.Lengths[g] != 0 {
			// The length travels only inside the encrypted mask.
			return fmt.Errorf("sentence %d states its length in the clear; the encoder reads it only from the encrypted mask", g)
		}
	}
	return nil
}

type encoderEval struct{ s *henn.EncoderServer }

// Evaluate runs the sentences one after the other, each with the
// EncoderServer's own parallelism.
func (e encoderEval) Evaluate(in *henn.Ciphertexts) (*henn.Ciphertexts, error) {
	out := &henn.Ciphertexts{}
	for g, group := range in.Groups {
		ct, err := e.s.Evaluate(&henn.EncoderInput{X: group[0], Mask: group[1]})
		if err != nil {
			return nil, fmt.Errorf("sentence %d: %w", g, err)
		}
		out.Groups = append(out.Groups, []*rlwe.Ciphertext{ct})
		out.Counts = append(out.Counts, 1)
	}
	return out, nil
}
