package he

import (
	"fmt"
	"math"
	"math/big"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
	"github.com/tuneinsight/lattigo/v6/utils"
)

// BootstrapPreset is a named bootstrapping parameter set: the residual
// CKKS parameters a circuit computes with, and the literal Lattigo expands
// into the bootstrapping circuit's own (larger) modulus chain.
type BootstrapPreset struct {
	Name     string
	Residual ckks.ParametersLiteral
	Circuit  bootstrapping.ParametersLiteral
	Note     string
}

// bootstrapPresets follow Lattigo's default dense-secret set
// N16QP1767H32768H32 (Bossuat, Troncoso-Pastoriza, Hubaux, "Bootstrapping
// for Approximate Homomorphic Encryption with Negligible
// Failure-Probability by Using Sparse-Secret Encapsulation", ePrint
// 2022/024), with one change: the residual secret is uniform ternary
// (Lattigo's default P = 2/3) instead of a fixed Hamming weight N/2, so
// that both chains fall under the HomomorphicEncryption.org table that
// [CheckSecurity] applies. The other dense defaults (QP 1788 and 1793 bits)
// exceed the 1772-bit bound of LogN 16 and are rejected by that check; the
// sparse defaults (H = 192) are not in the standard's table either.
//
// The circuit's auxiliary primes P are stated explicitly: Lattigo's
// default (61 bits × ⌊√#Q⌋) would give the LogN 15 set a 1012-bit QP,
// above the 881-bit bound, and the LogN 16 set more, smaller key-switching
// digits (larger keys).
//
// Lattigo's bootstrapping literal otherwise keeps its defaults: 4 CoeffsToSlots
// levels of 2^56, an 8-level cosine EvalMod at 2^60, 3 SlotsToCoeffs levels
// of 2^39, message ratio 2^8, and an ephemeral secret of Hamming weight 32
// that only exists inside the encapsulation key switch (ePrint 2022/024 §4:
// the sparse secret lives under the small modulus q0·p0, where it is
// secure).
var bootstrapPresets = []BootstrapPreset{
	{Name: "N16-BTP13", Note: "LogN 16, 13 levels of 2^40 after each bootstrap, 2^15 complex slots",
		Residual: ckks.ParametersLiteral{LogN: 16, LogQ: chain(60, 40, 13), LogP: rep(61, 6), LogDefaultScale: 40},
		Circuit:  bootstrapping.ParametersLiteral{LogP: rep(61, 6)}},
	// Lattigo's N15QP880H16384H32: the smallest secure bootstrappable set,
	// with 4 levels of 2^31 after each bootstrap. Its keys are a fraction
	// of LogN 16's, which is what fits a shared test machine.
	{Name: "N15-BTP4", Note: "LogN 15, 4 levels of 2^31 after each bootstrap, 2^14 complex slots",
		Residual: ckks.ParametersLiteral{LogN: 15, LogQ: []int{40, 31, 31, 31, 31}, LogP: []int{56, 56}, LogDefaultScale: 31},
		Circuit: bootstrapping.ParametersLiteral{LogN: utils.Pointy(15), LogP: []int{56, 56},
			SlotsToCoeffsFactorizationDepthAndLogScales: [][]int{{30, 30}},
			CoeffsToSlotsFactorizationDepthAndLogScales: [][]int{{52}, {52}},
			EvalModLogScale: utils.Pointy(55)}},
}

// BootstrapPresets returns the bootstrappable parameter sets.
func BootstrapPresets() []BootstrapPreset {
	out := make([]BootstrapPreset, len(bootstrapPresets))
	copy(out, bootstrapPresets)
	for i := range out {
		out[i].Residual.LogQ = append([]int(nil), out[i].Residual.LogQ...)
		out[i].Residual.LogP = append([]int(nil), out[i].Residual.LogP...)
	}
	return out
}

// BootstrapPresetByName returns the bootstrapping preset called name.
func BootstrapPresetByName(name string) (BootstrapPreset, error) {
	var names []string
	for _, p := range BootstrapPresets() {
		if p.Name == name {
			return p, nil
		}
		names = append(names, p.Name)
	}
	return BootstrapPreset{}, fmt.Errorf("he: no bootstrapping preset named %q (have %v)", name, names)
}

// BootstrapParams are checked bootstrapping parameters: the residual
// parameters (what keys, ciphertexts and circuits use) and the
// bootstrapping circuit's extended chain, both 128-bit secure.
type BootstrapParams struct {
	Preset string
	btp    bootstrapping.Parameters
}

// NewBootstrapParams instantiates p and rejects it unless the residual and
// the bootstrapping chains both pass [CheckSecurity].
func NewBootstrapParams(p BootstrapPreset) (*BootstrapParams, error) {
	res, err := NewParameters(p.Residual)
	if err != nil {
		return nil, fmt.Errorf("he: bootstrapping preset %s, residual parameters: %w", p.Name, err)
	}
	lit := p.Circuit
	// The circuit's chain shares the residual ring degree, so Lattigo keys
	// it with the residual secret extended to the larger modulus: state
	// that distribution instead of Lattigo's sparse default.
	lit.Xs = res.Xs()
	btp, err := bootstrapping.NewParametersFromLiteral(res, lit)
	if err != nil {
		return nil, fmt.Errorf("he: bootstrapping preset %s: %w", p.Name, err)
	}
	if btp.BootstrappingParameters.N() != res.N() {
		return nil, fmt.Errorf("he: bootstrapping preset %s: circuit ring degree %d differs from the residual %d (unsupported)", p.Name, btp.BootstrappingParameters.N(), res.N())
	}
	if err := CheckSecurity(btp.BootstrappingParameters); err != nil {
		return nil, fmt.Errorf("he: bootstrapping preset %s, circuit parameters: %w", p.Name, err)
	}
	return &BootstrapParams{Preset: p.Name, btp: btp}, nil
}

// Name is the preset's name (e.g. N15-BTP4).
func (bp *BootstrapParams) Name() string { return bp.Preset }

// Residual returns the parameters circuits, keys and ciphertexts use.
func (bp *BootstrapParams) Residual() ckks.Parameters { return bp.btp.ResidualParameters }

// Circuit returns the bootstrapping circuit's parameters (the residual
// chain extended by the bootstrapping levels).
func (bp *BootstrapParams) Circuit() ckks.Parameters { return bp.btp.BootstrappingParameters }

// LevelsAfter is the level of a freshly bootstrapped ciphertext: the
// residual chain's top level.
func (bp *BootstrapParams) LevelsAfter() int { return bp.btp.ResidualParameters.MaxLevel() }

// CircuitDepth is the number of levels the bootstrapping circuit itself
// consumes above the residual chain.
func (bp *BootstrapParams) CircuitDepth() int {
	return bp.btp.BootstrappingParameters.MaxLevel() - bp.btp.ResidualParameters.MaxLevel()
}

// LogMessageRatio is log2(q0/scale) a ciphertext needs at level 0.
func (bp *BootstrapParams) LogMessageRatio() int { return bp.btp.Mod1ParametersLiteral.LogMessageRatio }

// BootstrapKeys are the evaluation keys of the bootstrapping circuit:
// relinearization and Galois keys on the circuit's chain and the two
// encapsulation (dense↔sparse) switching keys. Like [EvaluationKeys] they
// hold no secret and are what a server receives.
type BootstrapKeys struct {
	params *BootstrapParams
	keys   *bootstrapping.EvaluationKeys
}

// BootstrapKeys generates the bootstrapping keys for bp. The key owner's
// parameters must be bp's residual parameters. Lattigo also returns the
// circuit-chain secret (the owner's secret extended to the larger
// modulus); it is dropped here and never leaves this function.
func (k *KeyOwner) BootstrapKeys(bp *BootstrapParams) (*BootstrapKeys, error) {
	if bp == nil {
		return nil, fmt.Errorf("he: nil bootstrapping parameters")
	}
	res := bp.Residual()
	if !res.Equal(&k.params) {
		return nil, fmt.Errorf("he: bootstrapping preset %s needs keys of its residual parameters (LogN %d, %d levels); this key owner has LogN %d, %d levels",
			bp.Preset, res.LogN(), res.MaxLevel(), k.params.LogN(), k.params.MaxLevel())
	}
	k.mu.Lock()
	evk, _, err := bp.btp.GenEvaluationKeys(k.sk)
	k.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("he: bootstrapping keys: %w", err)
	}
	return &BootstrapKeys{params: bp, keys: evk}, nil
}

// Params returns the parameters the keys belong to.
func (bk *BootstrapKeys) Params() *BootstrapParams { return bk.params }

// Size is the keys' serialized size in bytes (as [BootstrapKeys.WriteTo]
// writes them, without the 32-byte header).
func (bk *BootstrapKeys) Size() int64 { return int64(bk.keys.BinarySize()) }

// NumGaloisKeys is the number of rotation/conjugation keys the circuit
// needs.
func (bk *BootstrapKeys) NumGaloisKeys() int {
	return len(bk.keys.MemEvaluationKeySet.GetGaloisKeysList())
}

// Bootstrapper refreshes ciphertexts of the residual parameters to
// [BootstrapParams.LevelsAfter] levels. Lattigo v6.2's evaluator draws its
// buffers from a pool, so one Bootstrapper may serve several goroutines
// (Lattigo's own bootstrapping example does so).
type Bootstrapper struct {
	params *BootstrapParams
	eval   *bootstrapping.Evaluator
}

// NewBootstrapper builds the bootstrapping evaluator (it precomputes the
// homomorphic DFT matrices, which takes seconds and hundreds of MB). The
// keys must belong to bp.
func NewBootstrapper(bp *BootstrapParams, bk *BootstrapKeys) (*Bootstrapper, error) {
	if bp == nil || bk == nil || bk.keys == nil {
		return nil, fmt.Errorf("he: nil bootstrapping parameters or keys")
	}
	if !bk.params.btp.Equal(&bp.btp) {
		return nil, fmt.Errorf("he: bootstrapping keys belong to other parameters (keys: %s, parameters: %s)", bk.params.Preset, bp.Preset)
	}
	eval, err := bootstrapping.NewEvaluator(bp.btp, bk.keys)
	if err != nil {
		return nil, fmt.Errorf("he: bootstrapping evaluator: %w", err)
	}
	return &Bootstrapper{params: bp, eval: eval}, nil
}

// CheckBootstrapInput reports why ct cannot be bootstrapped under bp: not
// a ciphertext of the residual parameters, or a scale that leaves less
// than the message ratio below q0 (the modular reduction would then wrap
// the message), or, at level 0, a scale that is not a power of two (no
// level is left to correct it).
func (bp *BootstrapParams) CheckBootstrapInput(ct *rlwe.Ciphertext) error {
	res := bp.Residual()
	if err := CheckCiphertext(res, ct); err != nil {
		return err
	}
	if ct.Value[0].N() != res.N() {
		return fmt.Errorf("he: ciphertext ring degree %d, bootstrapping needs %d", ct.Value[0].N(), res.N())
	}
	lvl := ct.Level()
	// Available ratio Q_lvl/scale must be at least q_lvl·2^LogMessageRatio/2,
	// else ScaleDown cannot reach q0/ratio (Lattigo's own condition).
	qL := new(big.Float).SetInt(res.RingQ().AtLevel(lvl).Modulus())
	ratio := new(big.Float).Quo(qL, &ct.Scale.Value)
	need := new(big.Float).SetFloat64(math.Ldexp(0.5, bp.LogMessageRatio()))
	if lvl == 0 && ratio.Cmp(need) < 0 {
		logScale := math.Log2(ct.Scale.Float64())
		return fmt.Errorf("he: cannot bootstrap: ciphertext scale 2^%.1f at level 0 leaves less than 2^%d below q0 = 2^%.1f (rescale or encrypt at scale ≤ 2^%d)",
			logScale, bp.LogMessageRatio(), math.Log2(float64(res.Q()[0])), int(math.Log2(float64(res.Q()[0])))-bp.LogMessageRatio())
	}
	if lvl == 0 {
		if m, _ := math.Frexp(ct.Scale.Float64()); m != 0.5 {
			return fmt.Errorf("he: cannot bootstrap: ciphertext at level 0 has scale %.6g (2^%.3f), not a power of two; bootstrap one level earlier", ct.Scale.Float64(), math.Log2(ct.Scale.Float64()))
		}
	}
	return nil
}

// Bootstrap returns a fresh ciphertext at [BootstrapParams.LevelsAfter]
// levels and the default scale holding ct's values (up to the
// bootstrapping error, see [BootstrapReport]). ct is left unchanged.
func (b *Bootstrapper) Bootstrap(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	if err := b.params.CheckBootstrapInput(ct); err != nil {
		return nil, err
	}
	// Lattigo's ScaleDown works in place; keep the caller's ciphertext.
	out, err := b.eval.Bootstrap(ct.CopyNew())
	if err != nil {
		return nil, fmt.Errorf("he: bootstrap: %w", err)
	}
	return out, nil
}

// NumGaloisKeys is the number of Galois keys the bootstrapping circuit
// needs (rotations of the homomorphic DFTs, the trace of sparse packing,
// and conjugation, which Lattigo's list already holds).
func (bp *BootstrapParams) NumGaloisKeys() int {
	return len(bp.btp.GaloisElements(bp.btp.BootstrappingParameters))
}

// KeyBytesEstimate is the size of the bootstrapping keys predicted from
// the parameters before generating them: each key is a gadget ciphertext
// of 2·dnum polynomials over the circuit's Q·P (dnum = ⌈#Q/#P⌉).
func (bp *BootstrapParams) KeyBytesEstimate() int64 {
	p := bp.btp.BootstrappingParameters
	dnum := int64((p.QCount() + p.PCount() - 1) / p.PCount())
	perKey := 2 * dnum * int64(p.QCount()+p.PCount()) * int64(p.N()) * 8
	return int64(bp.NumGaloisKeys()+3) * perKey
}

// BootstrapPresetForLogN returns the bootstrapping preset of ring degree
// 2^logN.
func BootstrapPresetForLogN(logN int) (BootstrapPreset, error) {
	var have []int
	for _, p := range BootstrapPresets() {
		if p.Residual.LogN == logN {
			return p, nil
		}
		have = append(have, p.Residual.LogN)
	}
	return BootstrapPreset{}, fmt.Errorf("no bootstrapping preset for LogN %d (have %v)", logN, have)
}
