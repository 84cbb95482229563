package he

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/utils"
)

var (
	btpOnce   sync.Once
	btpParams *BootstrapParams
	btpOwner  *KeyOwner
	btpErr    error
)

// bootstrapFixture returns the first bootstrapping preset and a key owner
// of its residual parameters (no bootstrapping keys: those take tens of
// seconds and gigabytes).
func bootstrapFixture(t testing.TB) (*BootstrapParams, *KeyOwner) {
	t.Helper()
	btpOnce.Do(func() {
		btpParams, btpErr = NewBootstrapParams(BootstrapPresets()[0])
		if btpErr == nil {
			btpOwner, btpErr = NewKeyOwner(btpParams.Residual())
		}
	})
	if btpErr != nil {
		t.Fatal(btpErr)
	}
	return btpParams, btpOwner
}

func TestBootstrapPresetsSecure(t *testing.T) {
	for _, p := range BootstrapPresets() {
		bp, err := NewBootstrapParams(p)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		for _, params := range []struct {
			name string
			lqp  float64
		}{{"residual", bp.Residual().LogQP()}, {"circuit", bp.Circuit().LogQP()}} {
			if bound, _ := MaxLogQP(bp.Residual().LogN()); params.lqp > bound {
				t.Errorf("%s %s: log QP %.1f > %.0f", p.Name, params.name, params.lqp, bound)
			}
		}
		if bp.LevelsAfter() < 9 {
			t.Errorf("%s: %d levels after a bootstrap, want ≥ 9", p.Name, bp.LevelsAfter())
		}
	}
	// Lattigo's other dense default (QP 1788 bits) must fail the check.
	over := BootstrapPresets()[0]
	over.Name = "N16QP1788"
	over.Residual.LogQ = chain(60, 45, 9)
	over.Residual.LogP = rep(61, 5)
	over.Residual.LogDefaultScale = 45
	over.Circuit = bootstrapping.ParametersLiteral{
		SlotsToCoeffsFactorizationDepthAndLogScales: [][]int{{42}, {42}, {42}},
		CoeffsToSlotsFactorizationDepthAndLogScales: [][]int{{58}, {58}, {58}, {58}},
		LogMessageRatio: utils.Pointy(2),
		Mod1InvDegree:   utils.Pointy(7),
	}
	if _, err := NewBootstrapParams(over); err == nil || !strings.Contains(err.Error(), "exceeds the 128-bit bound") {
		t.Fatalf("1788-bit circuit accepted or wrong error: %v", err)
	}
}

func TestBootstrapInputErrors(t *testing.T) {
	bp, owner := bootstrapFixture(t)
	vals := testValues(16, -1, 1, 3)
	good, err := owner.Encrypt(vals, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := bp.CheckBootstrapInput(good); err != nil {
		t.Fatalf("fresh level-0 ciphertext rejected: %v", err)
	}
	big, err := owner.EncryptScale(vals, 0, rlwe.NewScale(math.Ldexp(1, 55)))
	if err != nil {
		t.Fatal(err)
	}
	odd, err := owner.EncryptScale(vals, 0, rlwe.NewScale(1.5*math.Ldexp(1, 40)))
	if err != nil {
		t.Fatal(err)
	}
	other, err := getFixture(t, 14, 1).owner.Encrypt(vals, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ct   *rlwe.Ciphertext
		want string
	}{
		{"scale too large", big, "below q0"},
		{"scale not a power of two", odd, "not a power of two"},
		{"other parameters", other, "other parameters"},
		{"nil", nil, "nil"},
	} {
		if err := bp.CheckBootstrapInput(tc.ct); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	// Keys of other parameters: the key owner of a LogN 14 preset cannot
	// make bootstrapping keys for this preset.
	if _, err := getFixture(t, 14, 1).owner.BootstrapKeys(bp); err == nil || !strings.Contains(err.Error(), "residual parameters") {
		t.Errorf("foreign key owner: %v", err)
	}
	if _, err := NewBootstrapper(bp, nil); err == nil {
		t.Error("nil keys accepted")
	}
}

func TestReadBootstrapKeysErrors(t *testing.T) {
	bp, _ := bootstrapFixture(t)
	header := func(kind Kind, fp [8]byte, n uint64) []byte {
		var h [headerSize]byte
		copy(h[:6], magic)
		binary.LittleEndian.PutUint16(h[6:8], FormatVersion)
		h[8] = byte(kind)
		copy(h[12:20], fp[:])
		binary.LittleEndian.PutUint64(h[20:28], n)
		return h[:]
	}
	fp := Fingerprint(bp.Circuit())
	for _, tc := range []struct {
		name string
		b    []byte
		want error
		msg  string
	}{
		{"other parameters", header(KindBootstrapKeys, Fingerprint(bp.Residual()), 10), ErrOtherParameters, "other parameters"},
		{"wrong kind", header(KindEvaluationKeys, fp, 10), nil, "want bootstrapping keys"},
		{"huge", header(KindBootstrapKeys, fp, 1<<62), ErrCorrupt, "exceeds"},
		{"truncated", append(header(KindBootstrapKeys, fp, 1000), make([]byte, 10)...), ErrCorrupt, ""},
		{"short header", []byte("KRELHE"), ErrCorrupt, "header"},
	} {
		_, err := ReadBootstrapKeys(bytes.NewReader(tc.b), bp)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %v, want %v mentioning %q", tc.name, err, tc.want, tc.msg)
		}
	}
}

// TestBootstrap generates real bootstrapping keys at LogN 16 and checks the
// refreshed values. It takes about a minute and several GB of memory, so
// the -short pass skips it.
func TestBootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("LogN 16 bootstrapping keys: about a minute and several GB")
	}
	bp, owner := bootstrapFixture(t)
	keys, err := owner.BootstrapKeys(bp)
	if err != nil {
		t.Fatal(err)
	}
	btp, err := NewBootstrapper(bp, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := testValues(bp.Residual().MaxSlots(), -1, 1, 7)
	ct, err := owner.Encrypt(want, 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := btp.Bootstrap(ct)
	if err != nil {
		t.Fatal(err)
	}
	if out.Level() != bp.LevelsAfter() {
		t.Fatalf("bootstrapped to level %d, want %d", out.Level(), bp.LevelsAfter())
	}
	have, err := owner.Decrypt(out)
	if err != nil {
		t.Fatal(err)
	}
	var maxErr float64
	for i := range want {
		maxErr = math.Max(maxErr, math.Abs(have[i]-want[i]))
	}
	// Lattigo documents 23.8 bits for this set; 2^-15 leaves a wide margin
	// while failing on any wrong value.
	if maxErr > math.Ldexp(1, -15) {
		t.Fatalf("bootstrap max |error| %.3g > 2^-15", maxErr)
	}
	// The input must be left intact (Lattigo scales it down in place).
	again, err := owner.Decrypt(ct)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Abs(again[i]-want[i]) > 1e-6 {
			t.Fatalf("input ciphertext changed by Bootstrap: slot %d %.6g, want %.6g", i, again[i], want[i])
		}
	}
	// A mismatched key set fails before any work.
	if _, err := NewBootstrapper(&BootstrapParams{Preset: "other", btp: bp.btp}, &BootstrapKeys{params: &BootstrapParams{Preset: "x"}, keys: keys.keys}); err == nil {
		t.Error("keys of other parameters accepted")
	}
}
