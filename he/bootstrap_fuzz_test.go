package he

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strconv"
	"testing"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
	"github.com/tuneinsight/lattigo/v6/utils"
)

// toyBootstrapParams are insecure toy bootstrapping parameters (LogN 4,
// 2 slots, a one-level CoeffsToSlots and SlotsToCoeffs, a degree-7
// EvalMod without double-angle steps) built without [NewBootstrapParams]'s
// security check. They exist only so that FuzzReadBootstrapKeys has valid
// keys a few tens of KB long as its seed: the presets' keys take
// gigabytes. [ReadBootstrapKeys] depends on the ring size only through
// the lengths and ranges it checks.
func toyBootstrapParams(tb testing.TB) *BootstrapParams {
	tb.Helper()
	res, err := ckks.NewParametersFromLiteral(ckks.ParametersLiteral{LogN: 4, LogQ: []int{40, 30}, LogP: []int{50, 50}, LogDefaultScale: 30})
	if err != nil {
		tb.Fatal(err)
	}
	btp, err := bootstrapping.NewParametersFromLiteral(res, bootstrapping.ParametersLiteral{
		LogN:     utils.Pointy(4),
		LogP:     []int{50, 50, 50},
		Xs:       res.Xs(),
		LogSlots: utils.Pointy(1),
		CoeffsToSlotsFactorizationDepthAndLogScales: [][]int{{50}},
		SlotsToCoeffsFactorizationDepthAndLogScales: [][]int{{30}},
		EvalModLogScale:       utils.Pointy(50),
		EphemeralSecretWeight: utils.Pointy(4),
		K:                     utils.Pointy(4),
		Mod1Degree:            utils.Pointy(7),
		DoubleAngle:           utils.Pointy(0),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &BootstrapParams{Preset: "toy", btp: btp}
}

// toyBootstrapKeys generates bp's keys with Lattigo directly ([NewKeyOwner]
// refuses the insecure toy ring).
func toyBootstrapKeys(tb testing.TB, bp *BootstrapParams) *BootstrapKeys {
	tb.Helper()
	sk := rlwe.NewKeyGenerator(bp.Residual()).GenSecretKeyNew()
	evk, _, err := bp.btp.GenEvaluationKeys(sk)
	if err != nil {
		tb.Fatal(err)
	}
	return &BootstrapKeys{params: bp, keys: evk}
}

// FuzzReadBootstrapKeys: any bytes give bootstrapping keys of the toy
// parameters or an error, never a panic, and accepted keys hold every
// Galois key the circuit needs. The seed is a real (toy) key set. The
// payload is decoded before its checksum is compared, so mutations reach
// Lattigo's decoder; each input is also read a second time with its
// checksum recomputed, so that they reach the shape and range checks too.
func FuzzReadBootstrapKeys(f *testing.F) {
	bp := toyBootstrapParams(f)
	bk := toyBootstrapKeys(f, bp)
	fuzzSeeds(f, func(b *bytes.Buffer) {
		if _, err := bk.WriteTo(b); err != nil {
			f.Fatal(err)
		}
	})
	need := len(bp.btp.GaloisElements(bp.Circuit()))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzBootstrapKeys(t, bp, need, data) })
}

// fuzzBootstrapKeys is FuzzReadBootstrapKeys's body (also run by
// BenchmarkFuzzBodies); need is the number of Galois keys bp's circuit
// needs.
func fuzzBootstrapKeys(tb testing.TB, bp *BootstrapParams, need int, data []byte) {
	check := func(data []byte) {
		got, err := ReadBootstrapKeys(bytes.NewReader(data), bp)
		if err == nil && got.NumGaloisKeys() < need {
			tb.Fatalf("accepted %d Galois keys, the circuit needs %d", got.NumGaloisKeys(), need)
		}
	}
	check(data)
	if len(data) > headerSize {
		fixed := append([]byte(nil), data...)
		binary.LittleEndian.PutUint32(fixed[28:32], crc32.Checksum(fixed[headerSize:], crcTable))
		check(fixed)
	}
}

func TestToyBootstrapKeysRoundTrip(t *testing.T) {
	bp := toyBootstrapParams(t)
	bk := toyBootstrapKeys(t, bp)
	var b bytes.Buffer
	if _, err := bk.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	t.Logf("toy bootstrapping keys: %d bytes, %d Galois keys, circuit Q %d P %d", b.Len(), bk.NumGaloisKeys(), bp.Circuit().QCount(), bp.Circuit().PCount())
	if _, err := ReadBootstrapKeys(bytes.NewReader(b.Bytes()), bp); err != nil {
		t.Fatal(err)
	}
	// The input with which Lattigo's own decoder asked for a 140 TB slice
	// (found by FuzzReadBootstrapKeys; its checksum is wrong, so it is read
	// once more with the checksum fixed, as the fuzz target does).
	crash, err := os.ReadFile("testdata/fuzz/FuzzReadBootstrapKeys/e4838b5449d1ac11")
	if err != nil {
		t.Fatal(err)
	}
	data := crash[bytes.IndexByte(crash, '"')+1 : bytes.LastIndexByte(crash, '"')]
	raw, err := strconv.Unquote(`"` + string(data) + `"`)
	if err != nil {
		t.Fatal(err)
	}
	fixed := []byte(raw)
	binary.LittleEndian.PutUint32(fixed[28:32], crc32.Checksum(fixed[headerSize:], crcTable))
	for _, in := range [][]byte{[]byte(raw), fixed} {
		if _, err := ReadBootstrapKeys(bytes.NewReader(in), bp); !errors.Is(err, ErrCorrupt) {
			t.Errorf("hostile key set: got %v, want ErrCorrupt", err)
		}
	}
}
