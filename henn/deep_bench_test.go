package henn

import (
	"os"
	"testing"

	"github.com/krelu/krelu/onnx"
)

// BenchmarkDeepModel measures the encrypted evaluation of the deep
// residual CNN of docs/deep.md (8 kernel-quadratic activations, 17
// levels; models/deep/rescnn_kernel2.onnx) per image: encrypt, evaluate,
// decrypt of one full ciphertext, keys made once outside the timer.
//
//   - "chain-N15": the 17-level LogN 15 chain, no bootstrap (≈ 8 GB RAM;
//     KRELU_DEEP=1).
//   - "bootstrapped-N15": the N15-BTP4 bootstrapping preset with the
//     planned bootstraps executed (4 per ciphertext; ≈ 10 GB RAM;
//     KRELU_BOOTSTRAP=15).
//
// Besides ns/op (wall clock, unreliable on a shared machine) it reports
// the process CPU seconds per ciphertext and per image.
//
//	KRELU_DEEP=1 go test -run - -bench DeepModel -benchtime 1x -count 3 ./henn/
func BenchmarkDeepModel(b *testing.B) {
	b.Run("chain-N15", func(b *testing.B) {
		if os.Getenv("KRELU_DEEP") != "1" {
			b.Skip("set KRELU_DEEP=1 (≈ 8 GB RAM)")
		}
		benchDeep(b, Options{LogN: 15})
	})
	b.Run("bootstrapped-N15", func(b *testing.B) {
		if os.Getenv("KRELU_BOOTSTRAP") != "15" {
			b.Skip("set KRELU_BOOTSTRAP=15 (≈ 10 GB RAM)")
		}
		benchDeep(b, Options{Bootstrap: bootParams(b, 15)})
	})
}

func benchDeep(b *testing.B, opts Options) {
	g, err := onnx.ReadFile("../models/deep/rescnn_kernel2.onnx", onnx.Options{})
	if err != nil {
		b.Fatal(err)
	}
	m, err := CompileGraph(g, opts)
	if err != nil {
		b.Fatal(err)
	}
	client, evk := keyed(b, m)
	var server *Server
	if m.NeedsBootstrapKeys() {
		bk, err := client.BootstrapKeys(m.BootstrapParams())
		if err != nil {
			b.Fatal(err)
		}
		server, err = NewBootstrapServer(m, evk, bk)
		if err != nil {
			b.Fatal(err)
		}
	} else if server, err = NewServer(m, evk); err != nil {
		b.Fatal(err)
	}
	l := m.Layout()
	k := l.PerCiphertext()
	inputs := make([][]float64, k)
	for i := range inputs {
		inputs[i] = make([]float64, l.InputDim)
		for j := range inputs[i] {
			inputs[i][j] = float64((i+j)%7) / 7
		}
	}
	b.Logf("%s: %d levels, %d bootstraps per ciphertext, %d images per ciphertext", m.Preset(), m.Depth(), len(m.Bootstraps()), k)
	c0 := cpuTime()
	b.ResetTimer()
	for b.Loop() {
		infer(b, client, server, l, inputs)
	}
	cpu := (cpuTime() - c0).Seconds() / float64(b.N)
	b.ReportMetric(cpu, "cpu-s/ciphertext")
	b.ReportMetric(cpu/float64(k), "cpu-s/image")
	b.ReportMetric(float64(len(m.Bootstraps())), "bootstraps/ciphertext")
}
