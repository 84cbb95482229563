package henn

import (
	"bytes"
	"testing"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// FuzzReadCiphertexts: any bytes give a batch of well-formed ciphertexts
// or an error, never a panic; an accepted batch writes and reads back.
// Toy parameters (LogN 5, insecure, never used to encrypt anything real)
// keep the inputs small enough for the fuzzer; the reader's checks do not
// depend on the ring size.
func FuzzReadCiphertexts(f *testing.F) {
	params, err := ckks.NewParametersFromLiteral(ckks.ParametersLiteral{LogN: 5, LogQ: []int{40, 30}, LogP: []int{40}, LogDefaultScale: 30})
	if err != nil {
		f.Fatal(err)
	}
	sk := rlwe.NewKeyGenerator(params).GenSecretKeyNew()
	enc := func(v float64) *rlwe.Ciphertext {
		pt, err := he.Encode(params, []float64{v, -v}, 1, params.DefaultScale())
		if err != nil {
			f.Fatal(err)
		}
		ct, err := rlwe.NewEncryptor(params, sk).EncryptNew(pt)
		if err != nil {
			f.Fatal(err)
		}
		return ct
	}
	for _, c := range []*Ciphertexts{
		{Groups: [][]*rlwe.Ciphertext{{enc(1)}}, Counts: []int{1}},
		{Groups: [][]*rlwe.Ciphertext{{enc(1)}, {enc(2), enc(3)}}, Counts: []int{1, 2}, Lengths: []int{3, 4}},
	} {
		var b bytes.Buffer
		if _, err := c.WriteTo(&b, params); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte(wireMagic + "\x01\x01\x00\xff\xff\x3f"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ReadCiphertexts(bytes.NewReader(data), params)
		if err != nil {
			return
		}
		for _, g := range c.Groups {
			for _, ct := range g {
				if err := he.CheckCiphertext(params, ct); err != nil {
					t.Fatalf("accepted an invalid ciphertext: %v", err)
				}
			}
		}
		var b bytes.Buffer
		if _, err := c.WriteTo(&b, params); err != nil {
			t.Fatalf("accepted batch does not write: %v", err)
		}
		c2, err := ReadCiphertexts(&b, params)
		if err != nil || c2.Inputs() != c.Inputs() || len(c2.Groups) != len(c.Groups) {
			t.Fatalf("accepted batch does not read back: %v", err)
		}
	})
}
