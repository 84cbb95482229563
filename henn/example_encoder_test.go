package henn_test

import (
	"fmt"

	"github.com/krelu/krelu/henn"
)

// The fully encrypted encoder: the client encrypts the token rows (its
// embedding lookup) and the length mask, the server evaluates every layer
// with the public evaluation keys only, the client decrypts the logits.
// (No Output comment: at LogN 14 the run takes seconds, so the example is
// compiled, not run; TestEncoderEncryptedMatchesForward runs the same
// steps.)
func ExampleCompileEncoder() {
	var enc *henn.Encoder // e.g. transformer.Model.Encoder() of an HE-friendly model
	var rows [][]float64  // e.g. transformer.Model.TokenRows(ids): one row of Dim features per token
	m, err := henn.CompileEncoder(enc, henn.Options{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	client, _ := henn.NewClient(m.Params())
	evk, _ := client.EvaluationKeys(m.Rotations()) // public: goes to the server
	server, _ := henn.NewEncoderServer(m, evk)
	in, _ := client.EncryptEncoderInput(m.Layout(), rows)
	out, _ := server.Evaluate(in)
	logits, _ := client.DecryptEncoderLogits(m.Layout(), out)
	fmt.Println(m.Preset(), m.Depth(), logits)
}
