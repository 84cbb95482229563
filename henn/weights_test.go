package henn

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// recordingKeys is an rlwe.EvaluationKeySet that records which Galois
// keys an evaluation asks for.
type recordingKeys struct {
	rlwe.EvaluationKeySet
	mu   sync.Mutex
	used map[uint64]bool
}

func (r *recordingKeys) GetGaloisKey(g uint64) (*rlwe.GaloisKey, error) {
	r.mu.Lock()
	r.used[g] = true
	r.mu.Unlock()
	return r.EvaluationKeySet.GetGaloisKey(g)
}

// TestWeightsShared builds two clients' servers from one Weights and checks
// their outputs, and that every rotation key the model asks clients for is
// used by an evaluation and no other is requested: the key set a client
// uploads (95 % of a session's memory) is exactly what the circuit needs.
func TestWeightsShared(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{{"packed", Options{Mode: Packed}}, {"replicate", Options{Mode: Packed, Replicate: true}}} {
		t.Run(tc.name, func(t *testing.T) {
			net := smallMLP(7, 40, 24, 5)
			m, err := Compile(net, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			w, err := EncodeWeights(m)
			if err != nil {
				t.Fatal(err)
			}
			if w.Size() <= 0 {
				t.Errorf("encoded weights of %d bytes", w.Size())
			}
			inputs := randInputs(rand.New(rand.NewPCG(1, 1)), 3, 40)
			for k := range 2 {
				c, evk := keyed(t, m)
				s, err := w.NewServer(evk)
				if err != nil {
					t.Fatal(err)
				}
				rec := &recordingKeys{EvaluationKeySet: evk.KeySet(), used: map[uint64]bool{}}
				s.eval = ckks.NewEvaluator(m.Params(), rec)
				got := infer(t, c, s, m.Layout(), inputs)
				if a := closeLogits(t, net, inputs, got, 1e-3); a != 1 {
					t.Errorf("client %d: argmax agreement %.2f", k, a)
				}
				var want, used []uint64
				for _, r := range m.Rotations() {
					want = append(want, m.Params().GaloisElementForRotation(r))
				}
				for g := range rec.used {
					used = append(used, g)
				}
				sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
				sort.Slice(used, func(i, j int) bool { return used[i] < used[j] })
				if len(want) != len(used) {
					t.Fatalf("model declares %d rotation keys, the evaluation used %d", len(want), len(used))
				}
				for i := range want {
					if want[i] != used[i] {
						t.Fatalf("declared Galois elements %v, used %v", want, used)
					}
				}
			}
		})
	}
}
