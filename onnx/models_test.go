package onnx

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/npy"
)

// modelsDir holds the ONNX models trained in PyTorch by
// scripts/onnx_models.py and their golden outputs.
const modelsDir = "../models"

// TestPyTorchModels imports the committed PyTorch-trained models and
// checks that the plaintext runtime reproduces PyTorch's logits on the
// first 16 MNIST test images to 1e-4.
func TestPyTorchModels(t *testing.T) {
	images, ishape, err := npy.ReadFile(filepath.Join(modelsDir, "golden", "images.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ishape) != 4 || ishape[1] != 1 || ishape[2] != 28 || ishape[3] != 28 {
		t.Fatalf("images.npy shape %v", ishape)
	}
	n := ishape[0]
	for _, name := range []string{"mlp", "lenet5", "rescnn"} {
		t.Run(name, func(t *testing.T) {
			g, err := ReadFile(filepath.Join(modelsDir, name+".onnx"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			want, wshape, err := npy.ReadFile(filepath.Join(modelsDir, "golden", name+"_logits.npy"))
			if err != nil {
				t.Fatal(err)
			}
			if len(wshape) != 2 || wshape[0] != n || wshape[1] != 10 {
				t.Fatalf("golden shape %v", wshape)
			}
			if out := g.Outputs[0]; out.Name != "logits" || len(out.Shape) != 2 || out.Shape[1] != 10 {
				t.Errorf("output %+v, want logits [1 10]", out)
			}
			worst := 0.0
			for i := 0; i < n; i++ {
				x, _ := graph.NewTensor([]int{1, 1, 28, 28}, images[i*784:(i+1)*784])
				out, err := g.Run(map[string]*graph.Tensor{"input": x})
				if err != nil {
					t.Fatal(err)
				}
				got := out["logits"]
				if got == nil || got.Size() != 10 {
					t.Fatalf("logits: %v", got)
				}
				for j, v := range got.Data {
					worst = math.Max(worst, math.Abs(v-want[i*10+j]))
				}
			}
			t.Logf("%s: max |logit − PyTorch| over %d images = %.2g", name, n, worst)
			if worst > 1e-4 {
				t.Errorf("%s: max logit error %g > 1e-4", name, worst)
			}
		})
	}
}

// TestPyTorchEncoder imports the transformer encoder layer PyTorch
// exported (embedding Gather, attention MatMuls, Softmax, GELU as Erf,
// LayerNorm decomposed into ReduceMean/Sub/Pow/Sqrt/Div) and reproduces
// its logits on four token sequences to 1e-4.
func TestPyTorchEncoder(t *testing.T) {
	g, err := ReadFile(filepath.Join(modelsDir, "encoder.onnx"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ids, ishape, err := npy.ReadFile(filepath.Join(modelsDir, "golden", "encoder_ids.npy"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := npy.ReadFile(filepath.Join(modelsDir, "golden", "encoder_logits.npy"))
	if err != nil {
		t.Fatal(err)
	}
	if in := g.Inputs[0]; in.DType != graph.Int64 || len(ishape) != 2 || in.Shape[1] != ishape[1] {
		t.Fatalf("input %+v, ids shape %v", in, ishape)
	}
	seq, worst := ishape[1], 0.0
	for i := 0; i < ishape[0]; i++ {
		x, _ := graph.NewTensor([]int{1, seq}, ids[i*seq:(i+1)*seq])
		out, err := g.Run(map[string]*graph.Tensor{"ids": x})
		if err != nil {
			t.Fatal(err)
		}
		for j, v := range out["logits"].Data {
			worst = math.Max(worst, math.Abs(v-want[i*2+j]))
		}
	}
	t.Logf("encoder: max |logit − PyTorch| = %.2g", worst)
	if worst > 1e-4 {
		t.Errorf("encoder: max logit error %g > 1e-4", worst)
	}
}

// ExampleReadFile imports the PyTorch-trained LeNet-5 and classifies the
// first MNIST test image.
func ExampleReadFile() {
	g, err := ReadFile("../models/lenet5.onnx", Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	images, _, err := npy.ReadFile("../models/golden/images.npy")
	if err != nil {
		fmt.Println(err)
		return
	}
	x, _ := graph.NewTensor([]int{1, 1, 28, 28}, images[:784])
	out, err := g.Run(map[string]*graph.Tensor{"input": x})
	if err != nil {
		fmt.Println(err)
		return
	}
	best := 0
	for j, v := range out["logits"].Data {
		if v > out["logits"].Data[best] {
			best = j
		}
	}
	fmt.Println("input", g.Inputs[0].Shape, "predicted digit", best)
	// Output: input [1 1 28 28] predicted digit 7
}

// BenchmarkPlaintext measures one plaintext forward pass of each committed
// PyTorch model (batch 1) through the graph runtime. Besides wall time it
// reports the process CPU time per pass (cpu-µs/op), which is what a
// shared machine's load does not inflate.
func BenchmarkPlaintext(b *testing.B) {
	images, _, err := npy.ReadFile(filepath.Join(modelsDir, "golden", "images.npy"))
	if err != nil {
		b.Fatal(err)
	}
	x, _ := graph.NewTensor([]int{1, 1, 28, 28}, images[:784])
	for _, name := range []string{"mlp", "lenet5", "rescnn"} {
		g, err := ReadFile(filepath.Join(modelsDir, name+".onnx"), Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			cpu0 := processCPU()
			for i := 0; i < b.N; i++ {
				if _, err := g.Run(map[string]*graph.Tensor{"input": x}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op")
		})
	}
}
