package he

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/krelu/krelu/internal/cputime"
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
		if want := map[int]int{15: 4, 16: 9}[p.Residual.LogN]; bp.LevelsAfter() < want {
			t.Errorf("%s: %d levels after a bootstrap, want ≥ %d", p.Name, bp.LevelsAfter(), want)
		}
		if est := bp.KeyBytesEstimate(); est < 1<<30 || est > 16<<30 {
			t.Errorf("%s: key size estimate %d bytes is implausible", p.Name, est)
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

// heavyBootstrap returns the preset the heavy bootstrap test and benchmark
// use, or "" when KRELU_BOOTSTRAP is unset: real bootstrapping keys take
// 8 GB of memory at LogN 15 (more at 16), more than `go test ./...` may
// take on a shared machine. KRELU_BOOTSTRAP=15 or 16 selects the preset.
func heavyBootstrap(t testing.TB) (*BootstrapParams, *KeyOwner, *Bootstrapper, *BootstrapKeys) {
	t.Helper()
	env := os.Getenv("KRELU_BOOTSTRAP")
	if env == "" {
		t.Skip("set KRELU_BOOTSTRAP=15 (≈ 8 GB RAM) or 16 to generate real bootstrapping keys")
	}
	logN, err := strconv.Atoi(env)
	if err != nil {
		t.Fatalf("KRELU_BOOTSTRAP=%q: want 15 or 16", env)
	}
	pr, err := BootstrapPresetForLogN(logN)
	if err != nil {
		t.Fatal(err)
	}
	bp, err := NewBootstrapParams(pr)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := NewKeyOwner(bp.Residual())
	if err != nil {
		t.Fatal(err)
	}
	keys, err := owner.BootstrapKeys(bp)
	if err != nil {
		t.Fatal(err)
	}
	btp, err := NewBootstrapper(bp, keys)
	if err != nil {
		t.Fatal(err)
	}
	return bp, owner, btp, keys
}

// TestBootstrap generates real bootstrapping keys and checks the refreshed
// values (KRELU_BOOTSTRAP=15 go test -run TestBootstrap$ ./he/).
func TestBootstrap(t *testing.T) {
	bp, owner, btp, keys := heavyBootstrap(t)
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
	// Lattigo documents 17.3 (LogN 15) and 23.8 (LogN 16) bits for these
	// sets; 2^-12 leaves a margin while failing on any wrong value.
	if maxErr > math.Ldexp(1, -12) {
		t.Fatalf("bootstrap max |error| %.3g > 2^-12", maxErr)
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

// BenchmarkBootstrap times one bootstrap (KRELU_BOOTSTRAP=15 go test
// -run - -bench Bootstrap ./he/); key generation is outside the timer.
func BenchmarkBootstrap(b *testing.B) {
	bp, owner, btp, _ := heavyBootstrap(b)
	ct, err := owner.Encrypt(testValues(bp.Residual().MaxSlots(), -1, 1, 9), 0)
	if err != nil {
		b.Fatal(err)
	}
	c0, _ := cputime.Process()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := btp.Bootstrap(ct); err != nil {
			b.Fatal(err)
		}
	}
	// Process CPU (all threads): wall time is unreliable on a shared machine.
	if c1, ok := cputime.Process(); ok {
		b.ReportMetric((c1-c0).Seconds()/float64(b.N), "cpu-s/bootstrap")
	}
}
