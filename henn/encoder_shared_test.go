package henn

import (
	"bytes"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// TestEncoderWeightsShared: two clients with their own keys evaluate at
// the same time on servers that share one EncoderWeights (run it with
// -race: the shared diagonals are only read), and each answer is, bit for
// bit, the ciphertext a server with its own private cache
// (NewEncoderServer) returns for the same input — sharing changes where
// the plaintexts live, not one output bit. The shared cache is cut to part
// of the maps, so the lazy path (diagonals encoded at each evaluation)
// runs concurrently too, and its answers must equal the fully cached
// private server's.
//
//	go test -race -run TestEncoderWeightsShared ./henn   # ≈ 2 CPU minutes, 3.3 GB peak
func TestEncoderWeightsShared(t *testing.T) {
	if testing.Short() {
		t.Skip("two clients' encoder key sets at LogN 14")
	}
	e := randEncoder(4, 8, 2, 8, 4, 1, 2)
	m, err := CompileEncoder(e, Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	full, err := EncodeEncoderWeights(m)
	if err != nil {
		t.Fatal(err)
	}
	// A budget for about half of the maps: the rest are lazy.
	old := maxCachedEncoderBytes
	maxCachedEncoderBytes = full.Size() / 2
	part, err := EncodeEncoderWeights(m)
	maxCachedEncoderBytes = old
	if err != nil {
		t.Fatal(err)
	}
	lazy := 0
	for _, ms := range part.maps {
		lazy += len(ms.lazy)
	}
	if lazy == 0 || part.Size() == 0 || part.Size() >= full.Size() {
		t.Fatalf("partial cache: %d lazy diagonals, %d of %d bytes encoded; want both paths", lazy, part.Size(), full.Size())
	}

	type user struct {
		c    *Client
		evk  *he.EvaluationKeys
		in   *EncoderInput
		want []float64
	}
	r := rand.New(rand.NewPCG(5, 6))
	users := make([]user, 2)
	for i := range users {
		c, evk := keyed(t, m)
		x := randSentence(r, 1+i*3, e.Dim)
		in, err := c.EncryptEncoderInput(m.Layout(), x)
		if err != nil {
			t.Fatal(err)
		}
		want, err := e.Forward(x)
		if err != nil {
			t.Fatal(err)
		}
		users[i] = user{c, evk, in, want}
	}
	fullSize := full.Size()
	full = nil
	for _, w := range []*EncoderWeights{part} {
		servers := make([]*EncoderServer, len(users))
		for i, u := range users {
			if servers[i], err = w.NewServer(u.evk); err != nil {
				t.Fatal(err)
			}
			if servers[i].Size() != w.Size() {
				t.Errorf("server %d uses %d bytes of diagonals, the shared weights hold %d", i, servers[i].Size(), w.Size())
			}
		}
		// Both sessions at once.
		outs := make([][]*rlwe.Ciphertext, len(users))
		var wg sync.WaitGroup
		for i := range users {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				out, err := servers[i].Evaluate(users[i].in)
				if err != nil {
					t.Error(err)
					return
				}
				outs[i] = append(outs[i], out)
			}(i)
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		for i, u := range users {
			private, err := NewEncoderServer(m, u.evk)
			if err != nil {
				t.Fatal(err)
			}
			ref, err := private.Evaluate(u.in)
			if err != nil {
				t.Fatal(err)
			}
			refBytes, err := ref.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			for k, out := range outs[i] {
				b, err := out.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, refBytes) {
					t.Errorf("shared cache of %d bytes (of %d), user %d, run %d: the ciphertext differs from the private server's", w.Size(), fullSize, i, k)
				}
			}
			got, err := u.c.DecryptEncoderLogits(m.Layout(), outs[i][0])
			if err != nil {
				t.Fatal(err)
			}
			for k := range u.want {
				if d := math.Abs(got[k] - u.want[k]); d > 1e-3*max(1, math.Abs(u.want[k])) {
					t.Errorf("user %d logit %d: encrypted %g, plaintext %g", i, k, got[k], u.want[k])
				}
			}
		}
	}
	if _, err := part.NewServer(nil); err == nil {
		t.Error("NewServer(nil) succeeded")
	}
}

// TestEncoderFingerprint: equal encoders have equal fingerprints, and a
// change of one weight bit anywhere — or of the shape — changes it; the
// compiled model reports its encoder's.
func TestEncoderFingerprint(t *testing.T) {
	fp := randEncoder(3, 8, 2, 8, 4, 1, 2).Fingerprint()
	if randEncoder(3, 8, 2, 8, 4, 1, 2).Fingerprint() != fp {
		t.Fatal("two equal encoders, two fingerprints")
	}
	bump := func(v *float64) { *v = math.Float64frombits(math.Float64bits(*v) ^ 1) }
	for name, change := range map[string]func(e *Encoder){
		"Q weight":        func(e *Encoder) { bump(&e.Layers[0].Q.W[1][2]) },
		"Norm bias":       func(e *Encoder) { bump(&e.Layers[0].Norm.B[0]) },
		"activation":      func(e *Encoder) { bump(&e.Layers[0].Act.Coeffs[2]) },
		"FFNOut weight":   func(e *Encoder) { bump(&e.Layers[0].FFNOut.W[7][7]) },
		"classifier bias": func(e *Encoder) { bump(&e.Classifier.B[1]) },
		"quad shift":      func(e *Encoder) { bump(&e.QuadShift) },
		"max tokens":      func(e *Encoder) { e.MaxTokens++ },
	} {
		e := randEncoder(3, 8, 2, 8, 4, 1, 2)
		change(e)
		if e.Fingerprint() == fp {
			t.Errorf("%s changed, fingerprint unchanged", name)
		}
	}
	m, err := CompileEncoder(randEncoder(3, 8, 2, 8, 4, 1, 2), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Fingerprint() != fp {
		t.Error("the compiled model reports another fingerprint")
	}
}
