package distill

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/llama2c"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// EncryptedResult reports a model run with every FFN block under CKKS.
type EncryptedResult struct {
	Preset    string `json:"preset"`
	LogN      int    `json:"logn"`
	Slots     int    `json:"slots"`
	Sequences int    `json:"sequences"`
	Tokens    int    `json:"tokens"` // positions packed, one per slot
	// VsPlain compares the model with encrypted FFNs to the same model in
	// plaintext (the reference); VsTeacher to the original SiLU model.
	VsPlain   llama2c.Fidelity `json:"vs_plaintext"`
	VsTeacher llama2c.Fidelity `json:"vs_teacher"`
	// PlainVsTeacher is the plaintext student against the teacher.
	PlainVsTeacher llama2c.Fidelity `json:"plaintext_vs_teacher"`
	// Per layer: the largest and RMS error of the decrypted FFN output
	// against the plaintext FFN on the same inputs, and the server's wall
	// time (encrypted FFN evaluation only; the machine may be shared).
	MaxErr  []float64 `json:"max_err"`
	RMSErr  []float64 `json:"rms_err"`
	Seconds []float64 `json:"server_seconds"`
	// MaxAbs is each layer's largest |FFN output| in plaintext on the
	// scored text, and Bound the preset's q0/(2·scale) (he.MessageBound):
	// Encrypted refuses to run unless every MaxAbs ≤ Bound/2.
	MaxAbs []float64 `json:"plain_max_abs_output"`
	Bound  float64   `json:"message_bound"`
}

// HeadroomError is Encrypted's refusal of a preset whose last level cannot
// hold a layer's FFN outputs: the decrypted values would wrap around
// modulo q0 instead of failing.
type HeadroomError struct {
	Preset string
	LogN   int
	// Layer is the layer with the largest |FFN output|, MaxAbs that
	// output's magnitude in plaintext on the scored text.
	Layer  int
	MaxAbs float64
	// Bound is the preset's q0/(2·scale); Encrypted needs MaxAbs ≤ Bound/2.
	Bound float64
}

func (e *HeadroomError) Error() string {
	return fmt.Sprintf("distill: layer %d's FFN outputs reach |y| = %.3g on this text, but preset %s (logN %d) carries only |y| < %.3g at its last level (%.1f bits above the scale; %.3g allowed with a 1-bit margin): the encrypted outputs would wrap around modulo q0 and decrypt wrongly",
		e.Layer, e.MaxAbs, e.Preset, e.LogN, e.Bound, math.Log2(e.Bound), e.Bound/2)
}

// CheckHeadroom returns a *HeadroomError unless every maxAbs[l] (a layer's
// largest |FFN output|) is at most half of bound (he.MessageBound of the
// preset): the block's output leaves at level 0, where a value must stay
// below q0/(2·scale); one bit is kept as margin, the threshold henn.Client
// uses to flag an overflowed decryption. Every intermediate (W1·x, W3·x,
// the gate and the gate product) sits one or more levels higher, with at
// least one more prime (≥ 30 bits) of room, so the output binds.
func CheckHeadroom(preset string, logN int, bound float64, maxAbs []float64) error {
	worst, top := -1, bound/2
	for l, m := range maxAbs {
		if math.IsNaN(m) {
			m = math.Inf(1) // a non-finite output fits no preset
		}
		if m > top {
			worst, top = l, m
		}
	}
	if worst < 0 {
		return nil
	}
	return &HeadroomError{Preset: preset, LogN: logN, Layer: worst, MaxAbs: maxAbs[worst], Bound: bound}
}

// Encrypted runs student over seqs with the FFN block of every layer —
// w2(p(w1·x) ⊙ w3·x), the gate product a ciphertext × ciphertext multiply —
// evaluated under CKKS by henn.GatedFFN on token-packed ciphertexts: the
// key owner normalises each layer's FFN input (RMSNorm, attention and the
// residual stream stay in plaintext on its side), encrypts feature f of
// every position into ciphertext f, and decrypts the server's result. All
// positions of all sequences share one ciphertext per feature, so they must
// fit in the slots of the chosen 128-bit preset (logN 0 = 14: the N13
// preset's 33-bit first prime at scale 2^30 leaves room only for |y| < 4,
// and the distilled stories260K's last FFN outputs reach |y| ≈ 12.6 on
// SST-2 text; N14-L6 holds |y| < 512). Before any key is made, the model runs in plaintext
// on seqs and Encrypted returns a *HeadroomError (see CheckHeadroom) when a
// layer's FFN outputs do not fit the preset. Every gate must be a
// quadratic.
func Encrypted(student, teacher *llama2c.Weights, seqs [][]int, logN, workers int) (*EncryptedResult, error) {
	for l, g := range student.Gate {
		if len(g) != 3 {
			return nil, fmt.Errorf("distill: layer %d's activation is not a quadratic", l)
		}
	}
	var in [][]int
	n := 0
	for _, s := range seqs {
		if len(s) >= 2 {
			in = append(in, s[:len(s)-1])
			n += len(s) - 1
		}
	}
	if n == 0 {
		return nil, errors.New("distill: no sequence has two tokens to score")
	}
	if logN == 0 {
		logN = 14
	}
	plan, err := he.NewPlan(henn.GatedFFNDepth, n, logN)
	if err != nil {
		return nil, fmt.Errorf("distill: %d positions at depth %d: %w", n, henn.GatedFFNDepth, err)
	}
	// The plaintext reference first: it gives each layer's output range.
	maxAbs := make([]float64, student.NLayers)
	plainFFN := func(l int, xf []float64, n int) ([]float64, error) {
		out := student.FFN(l, xf, n)
		for _, v := range out {
			if a := math.Abs(v); !(a <= maxAbs[l]) {
				maxAbs[l] = a // NaN sticks, and CheckHeadroom refuses it
			}
		}
		return out, nil
	}
	plain, err := student.ForwardFFN(in, plainFFN)
	if err != nil {
		return nil, err
	}
	bound := he.MessageBound(plan.Params)
	if err := CheckHeadroom(plan.Preset.Name, plan.Preset.LogN(), bound, maxAbs); err != nil {
		return nil, err
	}
	owner, err := he.NewKeyOwner(plan.Params)
	if err != nil {
		return nil, err
	}
	// The server's key material: relinearisation only, no rotations.
	ek, err := owner.EvaluationKeys()
	if err != nil {
		return nil, err
	}
	d, hd := student.Dim, student.HiddenDim
	rows := func(flat []float64, r, c int) [][]float64 {
		out := make([][]float64, r)
		for i := range out {
			out[i] = flat[i*c : (i+1)*c]
		}
		return out
	}
	res := &EncryptedResult{Preset: plan.Preset.Name, LogN: plan.Preset.LogN(), Slots: plan.Params.MaxSlots(), Sequences: len(in), Tokens: n, MaxAbs: maxAbs, Bound: bound}
	ffn := func(l int, xf []float64, n int) ([]float64, error) {
		L := &student.Layers[l]
		blk := &henn.GatedFFN{W1: rows(L.W1, hd, d), W3: rows(L.W3, hd, d), W2: rows(L.W2, d, hd), Gate: approx.Poly(student.Gate[l])}
		cts := make([]*rlwe.Ciphertext, d)
		col := make([]float64, n)
		for f := range d {
			for t := range n {
				col[t] = xf[t*d+f]
			}
			if cts[f], err = owner.Encrypt(col, plan.Level); err != nil {
				return nil, err
			}
		}
		t0 := time.Now()
		outCT, err := blk.EvalTokens(ek, cts, workers)
		if err != nil {
			return nil, err
		}
		res.Seconds = append(res.Seconds, time.Since(t0).Seconds())
		out := make([]float64, n*d)
		for f, ct := range outCT {
			v, err := owner.Decrypt(ct)
			if err != nil {
				return nil, err
			}
			for t := range n {
				out[t*d+f] = v[t]
			}
		}
		plain := student.FFN(l, xf, n)
		var mx, ss float64
		for i, v := range plain {
			e := math.Abs(out[i] - v)
			mx = math.Max(mx, e)
			ss += e * e
		}
		res.MaxErr = append(res.MaxErr, mx)
		res.RMSErr = append(res.RMSErr, math.Sqrt(ss/float64(len(plain))))
		return out, nil
	}
	enc, err := student.ForwardFFN(in, ffn)
	if err != nil {
		return nil, err
	}
	teach, err := teacher.ForwardFFN(in, func(l int, xf []float64, n int) ([]float64, error) { return teacher.FFN(l, xf, n), nil })
	if err != nil {
		return nil, err
	}
	V := student.VocabSize
	score := func(ref, sub [][]float64) (llama2c.Fidelity, error) {
		var next [][]int
		for _, s := range seqs {
			if len(s) >= 2 {
				next = append(next, s[1:])
			}
		}
		return llama2c.FidelityOf(ref, sub, next, V)
	}
	if res.VsPlain, err = score(plain, enc); err != nil {
		return nil, err
	}
	if res.VsTeacher, err = score(teach, enc); err != nil {
		return nil, err
	}
	if res.PlainVsTeacher, err = score(teach, plain); err != nil {
		return nil, err
	}
	return res, nil
}
