package he

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

func TestSerializationRoundTrip(t *testing.T) {
	f := getFixture(t, 13, 1)
	params := f.plan.Params

	roundTripParameters(t, params)

	if err := f.owner.AddRotations(f.keys, 1, -3); err != nil {
		t.Fatal(err)
	}
	other := getFixture(t, 14, 1)
	if err := other.owner.AddRotations(f.keys, 1); err == nil {
		t.Error("rotation keys added to another parameter set's keys")
	}
	stranger, err := NewKeyOwner(params)
	if err != nil {
		t.Fatal(err)
	}
	if err := stranger.AddRotations(f.keys, 2); err == nil || !strings.Contains(err.Error(), "another key owner") {
		t.Errorf("stranger's rotation keys: got %v", err)
	}
	var kb bytes.Buffer
	if _, err := f.keys.WriteTo(&kb); err != nil {
		t.Fatal(err)
	}
	ek, err := ReadEvaluationKeys(bytes.NewReader(kb.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !ek.HasRotation(1) || !ek.HasRotation(-3) || ek.HasRotation(2) {
		t.Errorf("rotations lost: %v", ek.GaloisElements())
	}
	if !ek.Relin.Equal(&f.keys.Relin.GadgetCiphertext) || !ek.Public.Equal(f.keys.Public) {
		t.Error("keys differ after round trip")
	}

	xs := testValues(100, -2, 2, 3)
	ct, err := ek.Encrypt(xs, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cb bytes.Buffer
	if _, err := WriteCiphertext(&cb, params, ct); err != nil {
		t.Fatal(err)
	}
	ct2, err := ReadCiphertext(bytes.NewReader(cb.Bytes()), params)
	if err != nil {
		t.Fatal(err)
	}
	// The server rotates with the deserialized keys; the client decrypts.
	rot, err := ek.NewEvaluator().RotateNew(ct2, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.owner.Decrypt(rot)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(xs)-1; i++ {
		if d := got[i] - xs[i+1]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("slot %d: got %v want %v", i, got[i], xs[i+1])
		}
	}

	var pk bytes.Buffer
	if _, err := WritePublicKey(&pk, params, f.owner.PublicKey()); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPublicKey(bytes.NewReader(pk.Bytes()), params); err != nil {
		t.Fatal(err)
	}
}

func TestSerializationErrors(t *testing.T) {
	f13 := getFixture(t, 13, 1)
	f14 := getFixture(t, 14, 1)
	ct, err := f13.owner.Encrypt([]float64{1, 2, 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	var cb bytes.Buffer
	if _, err := WriteCiphertext(&cb, f13.plan.Params, ct); err != nil {
		t.Fatal(err)
	}
	good := cb.Bytes()

	if _, err := ReadCiphertext(bytes.NewReader(good), f14.plan.Params); !errors.Is(err, ErrOtherParameters) {
		t.Errorf("other parameters: got %v", err)
	}
	if _, err := ReadParameters(bytes.NewReader(good)); err == nil || !strings.Contains(err.Error(), "is a ciphertext") {
		t.Errorf("wrong kind: got %v", err)
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)-5] ^= 1
	if _, err := ReadCiphertext(bytes.NewReader(flip), f13.plan.Params); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bit flip: got %v", err)
	}
	if _, err := ReadCiphertext(bytes.NewReader(good[:len(good)/2]), f13.plan.Params); !errors.Is(err, ErrCorrupt) {
		t.Errorf("truncated: got %v", err)
	}
	ver := append([]byte(nil), good...)
	ver[6] = 9
	if _, err := ReadCiphertext(bytes.NewReader(ver), f13.plan.Params); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("version: got %v", err)
	}
	// A ciphertext handed to the wrong key set's evaluator is refused.
	if _, _, err := EvalQuadratic(f14.keys.NewEvaluator(), ct, []float64{0, 0.5, 0.2}, QuadOptions{}); err == nil {
		t.Error("ciphertext from other parameters accepted by evaluator")
	}
	// Level too low.
	ct0, _ := f13.owner.Encrypt([]float64{1}, 0)
	if _, _, err := EvalQuadratic(f13.keys.NewEvaluator(), ct0, []float64{0, 0.5, 0.2}, QuadOptions{}); err == nil || !strings.Contains(err.Error(), "needs 1 levels") {
		t.Errorf("level too low: got %v", err)
	}
	// Too many values.
	if _, err := f13.owner.Encrypt(make([]float64, f13.plan.Params.MaxSlots()+1), 1); err == nil || !strings.Contains(err.Error(), "exceed") {
		t.Errorf("too many values: got %v", err)
	}
}

func fuzzSeeds(f *testing.F, write func(*bytes.Buffer)) {
	var b bytes.Buffer
	write(&b)
	f.Add(b.Bytes())
	f.Add([]byte{})
	f.Add([]byte("KRELHE"))
	h := append([]byte(nil), b.Bytes()[:min(b.Len(), headerSize)]...)
	f.Add(h)
}

// tinyParams are insecure toy parameters (LogN 5) that keep fuzz inputs
// small: the Go fuzzer slows to a crawl on inputs of hundreds of KB. The
// decoders do not depend on the ring size beyond the lengths they check.
func tinyParams(f testing.TB) ckks.Parameters {
	p, err := ckks.NewParametersFromLiteral(ckks.ParametersLiteral{LogN: 5, LogQ: []int{40, 30}, LogP: []int{40}, LogDefaultScale: 30})
	if err != nil {
		f.Fatal(err)
	}
	return p
}

func FuzzReadCiphertext(f *testing.F) {
	params := tinyParams(f)
	kgen := rlwe.NewKeyGenerator(params)
	sk := kgen.GenSecretKeyNew()
	fuzzSeeds(f, func(b *bytes.Buffer) {
		pt, _ := Encode(params, []float64{1, -2}, 1, params.DefaultScale())
		ct, _ := rlwe.NewEncryptor(params, sk).EncryptNew(pt)
		_, _ = WriteCiphertext(b, params, ct)
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		ct, err := ReadCiphertext(bytes.NewReader(data), params)
		if err == nil {
			if err := CheckCiphertext(params, ct); err != nil {
				t.Fatalf("accepted an invalid ciphertext: %v", err)
			}
		}
		// The payload decoder also sees arbitrary bytes, past the checksum.
		if len(data) > headerSize {
			_, _ = decodeCiphertext(params, data[headerSize:])
		}
	})
}

func FuzzReadParameters(f *testing.F) {
	fx := getFixture(f, 13, 1)
	fuzzSeeds(f, func(b *bytes.Buffer) { _, _ = WriteParameters(b, fx.plan.Params) })
	f.Add([]byte(`{"LogN":13,"Q":[1152921504606830593],"P":[1152921504606748673],"LogDefaultScale":40}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ReadParameters(bytes.NewReader(data)); err == nil {
			if err := CheckSecurity(p); err != nil {
				t.Fatalf("accepted insecure parameters: %v", err)
			}
		}
		if p, err := decodeParameters(data); err == nil {
			if err := CheckSecurity(p); err != nil {
				t.Fatalf("accepted insecure parameters: %v", err)
			}
		}
	})
}

func FuzzReadEvaluationKeys(f *testing.F) {
	fx := getFixture(f, 13, 1)
	fuzzSeeds(f, func(b *bytes.Buffer) { _, _ = fx.keys.WriteTo(b) })
	fp := Fingerprint(fx.plan.Params)
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ReadEvaluationKeys(bytes.NewReader(data))
		if len(data) > headerSize {
			_, _ = decodeEvaluationKeys(fp, data[headerSize:])
		}
	})
}

func FuzzReadPublicKey(f *testing.F) {
	params := tinyParams(f)
	pk := rlwe.NewKeyGenerator(params).GenPublicKeyNew(rlwe.NewKeyGenerator(params).GenSecretKeyNew())
	fuzzSeeds(f, func(b *bytes.Buffer) { _, _ = WritePublicKey(b, params, pk) })
	f.Fuzz(func(t *testing.T, data []byte) { fuzzPublicKey(params, data) })
}

// fuzzPublicKey is FuzzReadPublicKey's body (also run by
// BenchmarkFuzzBodies): the framed reader, and the payload decoder on
// arbitrary bytes past the checksum.
func fuzzPublicKey(params ckks.Parameters, data []byte) {
	_, _ = ReadPublicKey(bytes.NewReader(data), params)
	if len(data) > headerSize {
		_, _ = decodePublicKey(params, data[headerSize:])
	}
}

// TestEvaluationKeysLayoutChecked alters structure bytes past the checksum
// (as an attacker would, recomputing it) and expects ErrCorrupt, not a
// panic or an allocation sized by the attacker.
func TestEvaluationKeysLayoutChecked(t *testing.T) {
	f := getFixture(t, 13, 1)
	var kb bytes.Buffer
	if _, err := f.keys.WriteTo(&kb); err != nil {
		t.Fatal(err)
	}
	payload := kb.Bytes()[headerSize:]
	fp := Fingerprint(f.plan.Params)
	if _, err := decodeEvaluationKeys(fp, payload); err != nil {
		t.Fatalf("intact payload: %v", err)
	}
	tpl := templatesFor(f.plan.Params)
	// Offset of the relinearization key: params blob, public key blob, then its length.
	pjson, _ := f.plan.Params.MarshalJSON()
	rlkOff := 8 + len(pjson) + 8 + tpl.pk.size + 8
	for _, off := range []int{0, 7, rlkOff, rlkOff + 3, rlkOff + 9} {
		bad := append([]byte(nil), payload...)
		bad[off] ^= 0x40
		if _, err := decodeEvaluationKeys(fp, bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("byte %d altered: got %v, want ErrCorrupt", off, err)
		}
	}
	if _, err := decodeEvaluationKeys([8]byte{1}, payload); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong fingerprint: got %v", err)
	}
}

// TestSerializationConjugateInvariant round-trips parameters and evaluation
// keys (with rotations) on the conjugate-invariant ring, whose Galois
// elements live modulo 4N rather than 2N: henn's models use this ring, and
// a decoder that assumed the standard ring rejected every one of them.
func TestSerializationConjugateInvariant(t *testing.T) {
	lit := Presets()[0].Literal
	lit.RingType = ring.ConjugateInvariant
	params, err := NewParameters(lit)
	if err != nil {
		t.Fatal(err)
	}
	roundTripParameters(t, params)
	owner, err := NewKeyOwner(params)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := owner.EvaluationKeys(1, 5)
	if err != nil {
		t.Fatal(err)
	}
	var kb bytes.Buffer
	if _, err := keys.WriteTo(&kb); err != nil {
		t.Fatal(err)
	}
	ek, err := ReadEvaluationKeys(bytes.NewReader(kb.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !ek.HasRotation(1) || !ek.HasRotation(5) || ek.HasRotation(2) {
		t.Errorf("rotations lost: %v", ek.GaloisElements())
	}
}

// roundTripParameters writes params and reads them back, failing unless
// they come back equal.
func roundTripParameters(t *testing.T, params ckks.Parameters) {
	t.Helper()
	var pb bytes.Buffer
	if _, err := WriteParameters(&pb, params); err != nil {
		t.Fatal(err)
	}
	p2, err := ReadParameters(bytes.NewReader(pb.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !p2.Equal(&params) {
		t.Fatal("parameters differ after round trip")
	}
}
