package henn_test

import (
	"fmt"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/onnx"
	"github.com/krelu/krelu/rewrite"
)

// ExampleCompileGraph brings a PyTorch model to encrypted inference:
// import the ONNX file, fit every ReLU on calibration inputs, compile,
// then run it through a client (secret key) and a server (public keys).
func ExampleCompileGraph() {
	g, err := onnx.ReadFile("../models/lenet5.onnx", onnx.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	calib, _, err := rewrite.LoadInputs("../models/golden/images.npy", g.Inputs[0].Shape, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	rg, _, err := rewrite.Rewrite(g, calib, rewrite.Options{Method: rewrite.Kernel})
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := henn.CompileGraph(rg, henn.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	client, _ := henn.NewClient(m.Params())
	evk, _ := client.EvaluationKeys(m.Rotations()) // public: goes to the server
	server, _ := henn.NewServer(m, evk)
	in, _ := client.EncryptBatch(m.Layout(), [][]float64{calib[0].Data})
	out, _ := server.Evaluate(in)
	logits, _ := client.DecryptLogits(m.Layout(), out)
	fmt.Println(m.Preset(), m.Depth(), len(logits[0]))
}
