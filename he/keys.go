package he

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// KeyOwner is the client side: it holds the secret key, encrypts and
// decrypts, and derives the public material a server may receive. Nothing
// in its API returns or serializes the secret key, so a server built from
// [EvaluationKeys] can never obtain it. A KeyOwner is safe for concurrent
// use.
type KeyOwner struct {
	params ckks.Parameters

	mu   sync.Mutex // guards kgen, enc, dec, ecd (they hold buffers)
	sk   *rlwe.SecretKey
	pk   *rlwe.PublicKey
	kgen *rlwe.KeyGenerator
	enc  *rlwe.Encryptor
	dec  *rlwe.Decryptor
	ecd  *ckks.Encoder
}

// NewKeyOwner checks that params are secure and generates a fresh secret
// and public key.
func NewKeyOwner(params ckks.Parameters) (*KeyOwner, error) {
	if err := CheckSecurity(params); err != nil {
		return nil, err
	}
	kgen := rlwe.NewKeyGenerator(params)
	sk, pk := kgen.GenKeyPairNew()
	return &KeyOwner{
		params: params,
		sk:     sk,
		pk:     pk,
		kgen:   kgen,
		enc:    rlwe.NewEncryptor(params, sk),
		dec:    rlwe.NewDecryptor(params, sk),
		ecd:    ckks.NewEncoder(params),
	}, nil
}

// Params returns the parameters the keys were generated for.
func (k *KeyOwner) Params() ckks.Parameters { return k.params }

// PublicKey returns the public (encryption) key.
func (k *KeyOwner) PublicKey() *rlwe.PublicKey { return k.pk }

// EvaluationKeys generates the material a server needs: the public key,
// the relinearization key and one Galois key per requested rotation
// (slot shifts; negative values rotate right).
func (k *KeyOwner) EvaluationKeys(rotations ...int) (*EvaluationKeys, error) {
	k.mu.Lock()
	rlk := k.kgen.GenRelinearizationKeyNew(k.sk)
	k.mu.Unlock()
	ek := &EvaluationKeys{Params: k.params, Public: k.pk, Relin: rlk, galois: map[uint64]*rlwe.GaloisKey{}}
	if err := k.AddRotations(ek, rotations...); err != nil {
		return nil, err
	}
	return ek, nil
}

// AddRotations generates the Galois keys for rotations that ek lacks.
func (k *KeyOwner) AddRotations(ek *EvaluationKeys, rotations ...int) error {
	if err := k.owns(ek); err != nil {
		return err
	}
	slots := k.params.MaxSlots()
	for _, r := range rotations {
		if r <= -slots || r >= slots {
			return fmt.Errorf("he: rotation %d outside (−%d, %d)", r, slots, slots)
		}
		k.addGalois(ek, k.params.GaloisElementForRotation(r))
	}
	return nil
}

// addGalois generates the Galois key for gal unless ek already has it:
// key generation is the slow part, and each key takes megabytes.
func (k *KeyOwner) addGalois(ek *EvaluationKeys, gal uint64) {
	if _, ok := ek.galois[gal]; ok {
		return
	}
	k.mu.Lock()
	gk := k.kgen.GenGaloisKeyNew(gal, k.sk)
	k.mu.Unlock()
	if ek.galois == nil {
		ek.galois = map[uint64]*rlwe.GaloisKey{}
	}
	ek.galois[gal] = gk
}

// owns reports whether ek was derived from k's keys: adding Galois keys of
// one secret to another's key set would make rotations decrypt to noise.
func (k *KeyOwner) owns(ek *EvaluationKeys) error {
	if !ek.Params.Equal(&k.params) {
		return fmt.Errorf("he: evaluation keys belong to other parameters")
	}
	if ek.Public == nil || !ek.Public.Equal(k.pk) {
		return fmt.Errorf("he: evaluation keys belong to another key owner")
	}
	return nil
}

// AddConjugation generates the complex-conjugation Galois key (needed by
// some of Lattigo's circuits on the standard ring, e.g. the minimax
// evaluator of ReLUReference).
func (k *KeyOwner) AddConjugation(ek *EvaluationKeys) error {
	if err := k.owns(ek); err != nil {
		return err
	}
	k.addGalois(ek, k.params.GaloisElementForComplexConjugation())
	return nil
}

// Encrypt encodes values at the default scale and encrypts them at level.
func (k *KeyOwner) Encrypt(values []float64, level int) (*rlwe.Ciphertext, error) {
	return k.EncryptScale(values, level, k.params.DefaultScale())
}

// EncryptScale encodes values at scale and encrypts them at level.
func (k *KeyOwner) EncryptScale(values []float64, level int, scale rlwe.Scale) (*rlwe.Ciphertext, error) {
	pt, err := encode(k.params, values, level, scale, func(v any, pt *rlwe.Plaintext) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.ecd.Encode(v, pt)
	})
	if err != nil {
		return nil, err
	}
	ct := ckks.NewCiphertext(k.params, 1, level)
	k.mu.Lock()
	err = k.enc.Encrypt(pt, ct)
	k.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("he: encrypt: %w", err)
	}
	return ct, nil
}

// Decrypt decrypts ct and returns all its MaxSlots real parts. Decryption
// is done at level 0 because decoding above level 0 rebuilds big integers
// (tens of times slower at LogN 15).
func (k *KeyOwner) Decrypt(ct *rlwe.Ciphertext) ([]float64, error) {
	if err := CheckCiphertext(k.params, ct); err != nil {
		return nil, err
	}
	pt := ckks.NewPlaintext(k.params, 0)
	out := make([]float64, k.params.MaxSlots())
	k.mu.Lock()
	defer k.mu.Unlock()
	k.dec.Decrypt(ct, pt)
	if err := k.ecd.Decode(pt, out); err != nil {
		return nil, fmt.Errorf("he: decode: %w", err)
	}
	return out, nil
}

// Precision returns Lattigo's precision statistics of ct against want
// (compared slot by slot over len(want) slots; the rest are ignored).
func (k *KeyOwner) Precision(want []float64, ct *rlwe.Ciphertext) (ckks.PrecisionStats, error) {
	have, err := k.Decrypt(ct)
	if err != nil {
		return ckks.PrecisionStats{}, err
	}
	return PrecisionStats(k.params, want, have[:min(len(want), len(have))]), nil
}

// PrecisionStats wraps ckks.GetPrecisionStats for two plaintext vectors.
func PrecisionStats(params ckks.Parameters, want, have []float64) ckks.PrecisionStats {
	w := append([]float64(nil), want...)
	h := append([]float64(nil), have...)
	n := min(len(w), len(h))
	// The encoder only supplies its precision; no decryptor is needed for
	// plaintext vectors.
	return ckks.GetPrecisionStats(params, ckks.NewEncoder(params), nil, w[:n], h[:n], 0, false)
}

// EvaluationKeys is the public material a server may hold: parameters,
// public key (so it can encrypt its own constants), relinearization key and
// Galois keys. It contains no secret.
type EvaluationKeys struct {
	Params ckks.Parameters
	Public *rlwe.PublicKey
	Relin  *rlwe.RelinearizationKey
	galois map[uint64]*rlwe.GaloisKey
}

// GaloisElements returns the Galois elements ek holds keys for, sorted.
func (ek *EvaluationKeys) GaloisElements() []uint64 {
	out := make([]uint64, 0, len(ek.galois))
	for g := range ek.galois {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// HasRotation reports whether ek can rotate by r slots.
func (ek *EvaluationKeys) HasRotation(r int) bool {
	_, ok := ek.galois[ek.Params.GaloisElementForRotation(r)]
	return ok
}

// Retain drops the Galois keys of every rotation not in rotations and
// returns how many it dropped: a server keeps only what its circuit uses,
// whatever a client uploaded (each LogN 13 rotation key is 2.6 MB).
func (ek *EvaluationKeys) Retain(rotations ...int) int {
	keep := map[uint64]bool{}
	for _, r := range rotations {
		keep[ek.Params.GaloisElementForRotation(r)] = true
	}
	n := 0
	for g := range ek.galois {
		if !keep[g] {
			delete(ek.galois, g)
			n++
		}
	}
	return n
}

// Size is the number of bytes of key material ek holds (public,
// relinearization and Galois keys; coefficients are 8 bytes in memory as on
// the wire).
func (ek *EvaluationKeys) Size() int64 {
	var n int64
	if ek.Public != nil {
		n += int64(ek.Public.BinarySize())
	}
	if ek.Relin != nil {
		n += int64(ek.Relin.BinarySize())
	}
	for _, gk := range ek.galois {
		n += int64(gk.BinarySize())
	}
	return n
}

// KeySet returns the keys as a Lattigo evaluation key set.
func (ek *EvaluationKeys) KeySet() *rlwe.MemEvaluationKeySet {
	gks := make([]*rlwe.GaloisKey, 0, len(ek.galois))
	for _, g := range ek.GaloisElements() {
		gks = append(gks, ek.galois[g])
	}
	return rlwe.NewMemEvaluationKeySet(ek.Relin, gks...)
}

// NewEvaluator returns a CKKS evaluator holding ek. For parallel work give
// each goroutine its own evaluator.
func (ek *EvaluationKeys) NewEvaluator() *ckks.Evaluator {
	return ckks.NewEvaluator(ek.Params, ek.KeySet())
}

// Encrypt encrypts values with the public key at level and the default
// scale. It is not safe for concurrent use with itself.
func (ek *EvaluationKeys) Encrypt(values []float64, level int) (*rlwe.Ciphertext, error) {
	ecd := ckks.NewEncoder(ek.Params)
	pt, err := encode(ek.Params, values, level, ek.Params.DefaultScale(), ecd.Encode)
	if err != nil {
		return nil, err
	}
	ct := ckks.NewCiphertext(ek.Params, 1, level)
	if err := rlwe.NewEncryptor(ek.Params, ek.Public).Encrypt(pt, ct); err != nil {
		return nil, fmt.Errorf("he: encrypt: %w", err)
	}
	return ct, nil
}

// Encode encodes values into a plaintext at level and scale; it is what
// KeyOwner.Encrypt uses, exported for plaintext operands of linear layers.
func Encode(params ckks.Parameters, values []float64, level int, scale rlwe.Scale) (*rlwe.Plaintext, error) {
	return encode(params, values, level, scale, ckks.NewEncoder(params).Encode)
}

func encode(params ckks.Parameters, values []float64, level int, scale rlwe.Scale, enc func(any, *rlwe.Plaintext) error) (*rlwe.Plaintext, error) {
	if len(values) > params.MaxSlots() {
		return nil, fmt.Errorf("he: %d values exceed the %d slots of LogN %d", len(values), params.MaxSlots(), params.LogN())
	}
	if level < 0 || level > params.MaxLevel() {
		return nil, fmt.Errorf("he: level %d outside [0, %d]", level, params.MaxLevel())
	}
	if s := scale.Float64(); !(s >= 1) || math.IsInf(s, 0) {
		return nil, fmt.Errorf("he: invalid scale %v", s)
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("he: value %d is %v", i, v)
		}
	}
	pt := ckks.NewPlaintext(params, level)
	pt.Scale = scale
	if err := enc(values, pt); err != nil {
		return nil, fmt.Errorf("he: encode: %w", err)
	}
	return pt, nil
}

// CheckCiphertext reports why ct cannot be used with params: nil, wrong
// ring degree or modulus chain, degree other than 1, or a level above the
// chain. It cannot tell ciphertexts of two key pairs under the same
// parameters apart.
func CheckCiphertext(params ckks.Parameters, ct *rlwe.Ciphertext) error {
	if ct == nil || ct.MetaData == nil || len(ct.Value) == 0 {
		return fmt.Errorf("he: nil or empty ciphertext")
	}
	if ct.Degree() != 1 {
		return fmt.Errorf("he: ciphertext has degree %d (want 1; relinearize first)", ct.Degree())
	}
	if ct.LogDimensions.Cols > params.LogMaxSlots() || ct.LogDimensions.Rows != 0 {
		return fmt.Errorf("he: ciphertext has 2^%d slots, parameters LogN %d hold 2^%d", ct.LogDimensions.Cols, params.LogN(), params.LogMaxSlots())
	}
	for _, p := range ct.Value {
		if p.N() != params.N() {
			return fmt.Errorf("he: ciphertext ring degree %d, parameters have %d (ciphertext from other parameters)", p.N(), params.N())
		}
		if p.Level() != ct.Level() {
			return fmt.Errorf("he: ciphertext polynomials disagree on the level")
		}
	}
	if ct.Level() > params.MaxLevel() {
		return fmt.Errorf("he: ciphertext level %d above the parameters' maximum %d (ciphertext from other parameters)", ct.Level(), params.MaxLevel())
	}
	if s := ct.Scale.Float64(); !(s > 0) || math.IsInf(s, 0) {
		return fmt.Errorf("he: ciphertext has invalid scale %v", s)
	}
	return nil
}

// NeedLevel returns a clear error when ct has fewer than levels levels left.
func NeedLevel(ct *rlwe.Ciphertext, levels int) error {
	if ct.Level() < levels {
		return fmt.Errorf("he: ciphertext at level %d, circuit needs %d levels (encrypt at level ≥ %d or use a deeper preset)", ct.Level(), levels, levels)
	}
	return nil
}
