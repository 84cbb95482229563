package serve

import (
	"fmt"

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
	// newEvaluator makes a session's evaluator from the client's keys; it
	// shares the model's encoded weights, so a session holds its keys and
	// nothing of comparable size.
	newEvaluator(evk *he.EvaluationKeys) (evaluator, error)
	// checkBatch reports why a decoded batch does not have the shape the
	// model takes, before an evaluation slot is taken.
	checkBatch(in *henn.Ciphertexts) error
	// sharedBytes is the encoded weights shared by all sessions, made
	// once when the model is loaded.
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
func (n *network) checkBatch(in *henn.Ciphertexts) error { return nil } // henn.Server.Evaluate checks
func (n *network) sharedBytes() int64                    { return n.w.Size() }

func (n *network) newEvaluator(evk *he.EvaluationKeys) (evaluator, error) {
	return n.w.NewServer(evk)
}

// encoder serves a henn.EncoderModel: its diagonals are encoded once
// (henn.EncodeEncoderWeights) and every session's henn.EncoderServer
// shares them, as a network's sessions share its weights.
type encoder struct {
	m *henn.EncoderModel
	w *henn.EncoderWeights
}

func (e *encoder) params() ckks.Parameters { return e.m.Params() }
func (e *encoder) rotations() []int        { return e.m.Rotations() }
func (e *encoder) sharedBytes() int64      { return e.w.Size() }

func (e *encoder) newEvaluator(evk *he.EvaluationKeys) (evaluator, error) {
	srv, err := e.w.NewServer(evk)
	if err != nil {
		return nil, err
	}
	return encoderEval{srv}, nil
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
