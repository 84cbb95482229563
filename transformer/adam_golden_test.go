package transformer

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/krelu/krelu/approx"
)

// trainedWeightsDigest is the SHA-256 of the weights tiny transformers
// reach with every optimiser path on (clipping, a frozen embedding, an
// embedding updated only in its learnable rows, a fully trained one),
// taken with the transformer's own Adam before it moved to package optim.
// Equal digests prove the move changed no bit of any trained model, so
// the SST-2 experiments needed no re-run.
const trainedWeightsDigest = "a8aebdb20e64f8b9154e6d6c58d7bc022458a211b3ea1b6369d84611c5cf7ad2"

func TestTrainBitIdenticalAfterOptimMove(t *testing.T) {
	h := sha256.New()
	for k, setup := range []func(m *Model){
		func(m *Model) {},
		func(m *Model) { m.LearnRows = []bool{false, true, true, false, false, true} },
		func(m *Model) { m.TrainEmb = true },
	} {
		rng := rand.New(rand.NewPCG(uint64(k), 9))
		m, err := New(tinyConfig(), PolyActivation("ls", approx.Poly{0.15, 0.5, 0.25}), rng)
		if err != nil {
			t.Fatal(err)
		}
		setup(m)
		train := toyData(rng, 60)
		if _, err := Train(m, train, nil, TrainOptions{Epochs: 2, Batch: 7, LR: 0.01, Clip: 0.5, Seed: 3, Decay: k == 1}); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Params() {
			for _, v := range p.W {
				binary.Write(h, binary.LittleEndian, math.Float64bits(v))
			}
		}
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != trainedWeightsDigest {
		t.Errorf("trained weights digest %s, want %s", got, trainedWeightsDigest)
	}
}
