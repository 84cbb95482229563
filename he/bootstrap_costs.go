package he

import (
	"github.com/krelu/krelu/internal/cputime"

	"fmt"
	"sort"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// OpCosts are the measured CPU seconds of the CKKS operations a compiled
// network is made of, per level (index = level of the input ciphertext;
// index 0 is unused for operations that rescale). They feed the level
// planner's cost model (package levelplan). CPU time of the evaluating
// thread is used because wall time on a shared machine swings with other
// jobs' load.
type OpCosts struct {
	Preset string `json:"preset"`
	LogN   int    `json:"logn"`
	Reps   int    `json:"reps"`
	// Square is MulRelin + Rescale of two ciphertexts (one non-scalar
	// multiplication of a polynomial activation).
	Square []float64 `json:"square"`
	// PlainMul is a plaintext-vector product + Rescale.
	PlainMul []float64 `json:"plain_mul"`
	// Rotate is one slot rotation (key switching).
	Rotate []float64 `json:"rotate"`
	// Add is a ciphertext addition.
	Add []float64 `json:"add"`
}

// MeasureOpCosts measures the median CPU time of reps runs of each
// operation at every level 1…MaxLevel of params (level 0 is filled with
// level 1's addition and rotation costs; nothing multiplies there).
func MeasureOpCosts(params ckks.Parameters, name string, reps int) (*OpCosts, error) {
	if reps < 1 || reps > 100 {
		return nil, fmt.Errorf("he: repetitions %d outside [1, 100]", reps)
	}
	owner, err := NewKeyOwner(params)
	if err != nil {
		return nil, err
	}
	ek, err := owner.EvaluationKeys(1)
	if err != nil {
		return nil, err
	}
	eval := ek.NewEvaluator()
	L := params.MaxLevel()
	c := &OpCosts{Preset: name, LogN: params.LogN(), Reps: reps,
		Square: make([]float64, L+1), PlainMul: make([]float64, L+1), Rotate: make([]float64, L+1), Add: make([]float64, L+1)}
	vals := make([]float64, params.MaxSlots())
	for i := range vals {
		vals[i] = float64(i%7)/7 - 0.5
	}
	median := func(f func() error) (float64, error) {
		t := make([]float64, reps)
		for i := range t {
			tm := cputime.StartThread()
			err := f()
			t[i] = tm.Stop().Seconds()
			if err != nil {
				return 0, err
			}
		}
		sort.Float64s(t)
		return t[reps/2], nil
	}
	for lvl := L; lvl >= 1; lvl-- {
		ct, err := owner.Encrypt(vals, lvl)
		if err != nil {
			return nil, err
		}
		pt, err := Encode(params, vals, lvl, rlwe.NewScale(params.Q()[lvl]))
		if err != nil {
			return nil, err
		}
		out := ckks.NewCiphertext(params, 1, lvl)
		steps := []struct {
			dst *[]float64
			f   func() error
		}{
			{&c.Square, func() error {
				if err := eval.MulRelin(ct, ct, out); err != nil {
					return err
				}
				return eval.Rescale(out, out)
			}},
			{&c.PlainMul, func() error {
				if err := eval.Mul(ct, pt, out); err != nil {
					return err
				}
				return eval.Rescale(out, out)
			}},
			{&c.Rotate, func() error { return eval.Rotate(ct, 1, out) }},
			{&c.Add, func() error { return eval.Add(ct, ct, out) }},
		}
		for _, s := range steps {
			f := s.f
			v, err := median(func() error {
				out.Resize(1, lvl) // Rescale lowered it
				return f()
			})
			if err != nil {
				return nil, fmt.Errorf("he: measuring at level %d: %w", lvl, err)
			}
			(*s.dst)[lvl] = v
		}
	}
	c.Rotate[0], c.Add[0] = c.Rotate[min(1, L)], c.Add[min(1, L)]
	c.Square[0], c.PlainMul[0] = c.Square[min(1, L)], c.PlainMul[min(1, L)]
	return c, nil
}
