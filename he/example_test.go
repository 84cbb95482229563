package he_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/he"
)

// A client encrypts, a server that holds only the evaluation keys applies
// the degree-2 activation in one level, the client decrypts.
func Example() {
	plan, err := he.NewPlan(1, 4, 13) // depth 1, 4 slots, LogN 13
	if err != nil {
		log.Fatal(err)
	}
	client, err := he.NewKeyOwner(plan.Params)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := client.EvaluationKeys()
	if err != nil {
		log.Fatal(err)
	}
	// What travels to the server: evaluation keys and a ciphertext.
	var wire bytes.Buffer
	if _, err := keys.WriteTo(&wire); err != nil {
		log.Fatal(err)
	}
	ct, err := client.Encrypt([]float64{-1, -0.5, 0.5, 2}, plan.Level)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := he.WriteCiphertext(&wire, plan.Params, ct); err != nil {
		log.Fatal(err)
	}

	// Server side.
	serverKeys, err := he.ReadEvaluationKeys(&wire)
	if err != nil {
		log.Fatal(err)
	}
	in, err := he.ReadCiphertext(&wire, serverKeys.Params)
	if err != nil {
		log.Fatal(err)
	}
	p := approx.Poly{0.5, 0.5, 0.125} // (x+2)²/8
	out, _, err := he.EvalQuadratic(serverKeys.NewEvaluator(), in, p, he.QuadOptions{})
	if err != nil {
		log.Fatal(err)
	}

	// Client side.
	got, err := client.Decrypt(out)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("preset %s, levels consumed %d\n", plan.Preset.Name, in.Level()-out.Level())
	for i, x := range []float64{-1, -0.5, 0.5, 2} {
		fmt.Printf("p(%4.1f) = %.6f (plaintext %.6f)\n", x, got[i], p.Eval(x))
	}
	// Output:
	// preset N13-L3, levels consumed 1
	// p(-1.0) = 0.125000 (plaintext 0.125000)
	// p(-0.5) = 0.281250 (plaintext 0.281250)
	// p( 0.5) = 0.781250 (plaintext 0.781250)
	// p( 2.0) = 2.000000 (plaintext 2.000000)
}
