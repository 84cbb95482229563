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

// A service with many clients: the encoder's diagonals are encoded once
// and every client's server shares them, so a client costs its keys only.
// (Compiled, not run: LogN 14; TestEncoderWeightsShared runs it.)
func ExampleEncodeEncoderWeights() {
	var m *henn.EncoderModel // henn.CompileEncoder(enc, henn.Options{})
	var alice, bob *henn.Client
	w, err := henn.EncodeEncoderWeights(m) // once per served model
	if err != nil {
		fmt.Println(err)
		return
	}
	evkA, _ := alice.EvaluationKeys(m.Rotations())
	evkB, _ := bob.EvaluationKeys(m.Rotations())
	serverA, _ := w.NewServer(evkA) // both read w, concurrently if need be
	serverB, _ := w.NewServer(evkB)
	fmt.Println(w.Size(), serverA.Size() == serverB.Size())
}
