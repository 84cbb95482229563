package henn

import (
	"github.com/krelu/krelu/internal/logits"
	"math"
	"math/rand/v2"
	"testing"
)

// trainTinyMLP trains in-27-4 with the kernel quadratic by full-batch
// gradient descent on softmax cross-entropy, so the weights have the
// structure of a trained model (not just random) for the agreement test.
func trainTinyMLP(xs [][]float64, ys []int, in, hid, classes int) Network {
	r := rand.New(rand.NewPCG(51, 51))
	d1, d2 := randDense(r, hid, in, 1), randDense(r, classes, hid, 1)
	act := kernelQuad.Coeffs
	lr := 0.3
	for range 100 {
		g1 := Dense{W: zeros(hid, in), B: make([]float64, hid)}
		g2 := Dense{W: zeros(classes, hid), B: make([]float64, classes)}
		for n, x := range xs {
			u := d1.apply(x)
			h := make([]float64, hid)
			for i := range u {
				h[i] = act.Eval(u[i])
			}
			z := d2.apply(h)
			m := z[logits.Argmax(z)]
			var sum float64
			for i := range z {
				z[i] = math.Exp(z[i] - m)
				sum += z[i]
			}
			for i := range z {
				z[i] /= sum
			}
			z[ys[n]]--
			dh := make([]float64, hid)
			for k := range z {
				g2.B[k] += z[k]
				for i := range h {
					g2.W[k][i] += z[k] * h[i]
					dh[i] += z[k] * d2.W[k][i]
				}
			}
			for i := range dh {
				du := dh[i] * act.Deriv(u[i])
				g1.B[i] += du
				for j := range x {
					g1.W[i][j] += du * x[j]
				}
			}
		}
		step := lr / float64(len(xs))
		for _, p := range [][2]Dense{{d1, g1}, {d2, g2}} {
			for i := range p[0].W {
				p[0].B[i] -= step * p[1].B[i]
				for j := range p[0].W[i] {
					p[0].W[i][j] -= step * p[1].W[i][j]
				}
			}
		}
	}
	return Network{InputDim: in, Layers: []Layer{d1, kernelQuad, d2}}
}

func zeros(r, c int) [][]float64 {
	m := make([][]float64, r)
	for i := range m {
		m[i] = make([]float64, c)
	}
	return m
}

// blobs draws n points around `classes` random centres in dim dimensions.
func blobs(r *rand.Rand, centres [][]float64, n int) ([][]float64, []int) {
	xs, ys := make([][]float64, n), make([]int, n)
	for i := range xs {
		ys[i] = r.IntN(len(centres))
		xs[i] = make([]float64, len(centres[0]))
		for j := range xs[i] {
			xs[i][j] = centres[ys[i]][j] + 1.2*r.NormFloat64()
		}
	}
	return xs, ys
}

func TestTrainedMLPAgreement(t *testing.T) {
	r := rand.New(rand.NewPCG(52, 52))
	const in, hid, classes = 20, 27, 4
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, in)
		for j := range centres[c] {
			centres[c][j] = r.NormFloat64()
		}
	}
	xtr, ytr := blobs(r, centres, 200)
	net := trainTinyMLP(xtr, ytr, in, hid, classes)
	xte, yte := blobs(r, centres, 200)

	plainCorrect := 0
	for i, x := range xte {
		z, _ := net.Forward(x)
		if logits.Argmax(z) == yte[i] {
			plainCorrect++
		}
	}
	if plainCorrect < 150 {
		t.Fatalf("plaintext accuracy %d/200: the tiny model did not train", plainCorrect)
	}
	for _, mode := range []Mode{Packed, Slots} {
		got, st, err := Run(net, xte, Options{Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		agree := closeLogits(t, net, xte, got, 1e-4)
		if agree < 0.995 {
			t.Errorf("%v: argmax agreement %.3f, want ≥ 0.995", mode, agree)
		}
		encCorrect := 0
		for i := range got {
			if logits.Argmax(got[i]) == yte[i] {
				encCorrect++
			}
		}
		if encCorrect != plainCorrect {
			t.Errorf("%v: encrypted accuracy %d/200, plaintext %d/200", mode, encCorrect, plainCorrect)
		}
		t.Logf("%v: accuracy %d/200 (plaintext %d), agreement %.3f, %d ciphertext groups, per input %v",
			mode, encCorrect, plainCorrect, agree, (len(xte)+st.PerCiphertext-1)/st.PerCiphertext, st.PerInput)
	}
}
