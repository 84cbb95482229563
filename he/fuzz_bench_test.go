package he

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// BenchmarkFuzzBodies runs the bodies of FuzzReadPublicKey and
// FuzzReadBootstrapKeys over their seed corpora (the generated seed and
// testdata/fuzz/FuzzX), one op being one pass over the corpus. It is how
// docs/fuzz.md tells the decoders' own cost from the fuzzer's: tens of
// microseconds per input here, against the 50–170 executions/s of run B,
// which went to minimizing kilobyte-sized interesting inputs.
func BenchmarkFuzzBodies(b *testing.B) {
	b.Run("PublicKey", func(b *testing.B) {
		params := tinyParams(b)
		kgen := rlwe.NewKeyGenerator(params)
		var seed bytes.Buffer
		if _, err := WritePublicKey(&seed, params, kgen.GenPublicKeyNew(kgen.GenSecretKeyNew())); err != nil {
			b.Fatal(err)
		}
		corpus := append(readSeedCorpus(b, "FuzzReadPublicKey"), seed.Bytes())
		b.ResetTimer()
		for b.Loop() {
			for _, data := range corpus {
				fuzzPublicKey(params, data)
			}
		}
		b.ReportMetric(float64(len(corpus)), "inputs/op")
	})
	b.Run("BootstrapKeys", func(b *testing.B) {
		bp := toyBootstrapParams(b)
		var seed bytes.Buffer
		if _, err := toyBootstrapKeys(b, bp).WriteTo(&seed); err != nil {
			b.Fatal(err)
		}
		need := len(bp.btp.GaloisElements(bp.Circuit()))
		corpus := append(readSeedCorpus(b, "FuzzReadBootstrapKeys"), seed.Bytes())
		b.ResetTimer()
		for b.Loop() {
			for _, data := range corpus {
				fuzzBootstrapKeys(b, bp, need, data)
			}
		}
		b.ReportMetric(float64(len(corpus)), "inputs/op")
	})
}

// readSeedCorpus reads the []byte inputs of testdata/fuzz/name (files in
// the "go test fuzz v1" format with one []byte("...") line).
func readSeedCorpus(tb testing.TB, name string) [][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		i, j := bytes.IndexByte(raw, '"'), bytes.LastIndexByte(raw, '"')
		if i < 0 || j <= i {
			tb.Fatalf("%s: no []byte value", f)
		}
		v, err := strconv.Unquote(string(raw[i : j+1]))
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out = append(out, []byte(v))
	}
	return out
}
