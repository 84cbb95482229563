package he

import (
	"fmt"
	"sync"
	"testing"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/internal/cputime"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// benchConfig is one parameter set and the level to encrypt at.
type benchConfig struct {
	name  string
	lit   ckks.ParametersLiteral
	level int // -1: top level
}

// sealChain builds the modulus chain Microsoft SEAL's examples use,
// {60, 40×k, 60} at scale 2^40, the last prime being the special (P) one:
// the chains of the SEAL comparison in docs/he.md (SEAL's own
// examples and the peer benchmark bench/peers/seal).
func sealChain(logN, k int) ckks.ParametersLiteral {
	return ckks.ParametersLiteral{LogN: logN, LogQ: chain(60, 40, k), LogP: []int{60}, LogDefaultScale: 40}
}

func benchConfigs() []benchConfig {
	var cs []benchConfig
	for _, name := range []string{"N13-L3", "N14-L6", "N15-L17"} {
		p, _ := PresetByName(name)
		// Level 1 is where a planner runs a lone activation; level 2 is the
		// generic evaluator's minimum, so all three run at the same level.
		cs = append(cs, benchConfig{name + "/level1", p.Literal, 1}, benchConfig{name + "/level2", p.Literal, 2})
	}
	cs = append(cs,
		benchConfig{"SEAL-N13-{60,40,40,60}/top", sealChain(13, 2), -1},
		benchConfig{"SEAL-N14-{60,40x4,60}/top", sealChain(14, 4), -1},
		benchConfig{"SEAL-N15-{60,40x8,60}/top", sealChain(15, 8), -1},
	)
	return cs
}

// benchPoly is the widely quoted least-squares quadratic of ReLU under
// N(0,1), the polynomial of the SEAL peer figures.
var benchPoly = approx.Poly{0.199471, 0.5, 0.199471}

// BenchmarkActivation compares, at the same level in the same run: one
// bare square (MulRelin+Rescale), the one-level degree-2 activation
// (EvalQuadratic, also with the leading coefficient folded), Lattigo's
// generic polynomial evaluator on the same polynomial, and the activation
// on two goroutines (ns/op is per pair of ciphertexts).
//
//	go test -run '^$' -bench Activation -benchtime 20x -count 5 ./he/
func BenchmarkActivation(b *testing.B) {
	for _, c := range benchConfigs() {
		params, err := NewParameters(c.lit)
		if err != nil {
			b.Fatal(err)
		}
		level := c.level
		if level < 0 {
			level = params.MaxLevel()
		}
		var (
			once  sync.Once
			owner *KeyOwner
			keys  *EvaluationKeys
			ct    *rlwe.Ciphertext
		)
		setup := func(b *testing.B) {
			once.Do(func() {
				if owner, err = NewKeyOwner(params); err != nil {
					b.Fatal(err)
				}
				if keys, err = owner.EvaluationKeys(); err != nil {
					b.Fatal(err)
				}
				if ct, err = owner.Encrypt(testValues(params.MaxSlots(), -4, 4, 7), level); err != nil {
					b.Fatal(err)
				}
			})
		}
		run := func(name string, f func(eval *ckks.Evaluator) error) {
			b.Run(fmt.Sprintf("%s/%s", c.name, name), func(b *testing.B) {
				setup(b)
				eval := keys.NewEvaluator()
				if err := f(eval); err != nil { // warm the buffer pools
					b.Fatal(err)
				}
				b.ResetTimer()
				tt := cputime.StartThread()
				for i := 0; i < b.N; i++ {
					if err := f(eval); err != nil {
						b.Fatal(err)
					}
				}
				cpu := tt.Stop()
				// The machine is shared: thread CPU time per op is the
				// figure to compare; ns/op is wall clock.
				b.ReportMetric(float64(cpu.Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			})
		}
		run("square", func(eval *ckks.Evaluator) error { _, err := Square(eval, ct); return err })
		run("quad", func(eval *ckks.Evaluator) error {
			_, _, err := EvalQuadratic(eval, ct, benchPoly, QuadOptions{})
			return err
		})
		run("quad-fold", func(eval *ckks.Evaluator) error {
			_, _, err := EvalQuadratic(eval, ct, benchPoly, QuadOptions{FoldLeading: true})
			return err
		})
		if level >= 2 {
			run("generic", func(eval *ckks.Evaluator) error { _, err := EvalPolynomial(eval, ct, benchPoly); return err })
		}
		b.Run(c.name+"/quad-2goroutines", func(b *testing.B) {
			setup(b)
			evals := []*ckks.Evaluator{keys.NewEvaluator(), keys.NewEvaluator()}
			for i := 0; i < b.N+1; i++ {
				if i == 1 {
					b.ResetTimer()
				}
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for g := range evals {
					wg.Add(1)
					go func(g int) {
						defer wg.Done()
						_, _, errs[g] = EvalQuadratic(evals[g], ct, benchPoly, QuadOptions{})
					}(g)
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
