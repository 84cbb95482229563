package llama2c

import "fmt"

// FFNFunc computes the FFN blocks of one layer for a batch of positions:
// xf holds n rows of Dim values, the RMS-normalised FFN inputs; it returns
// the n rows w2(p(w1·x) ⊙ w3·x) to add to the residual stream. It lets the
// FFNs run elsewhere, e.g. under CKKS encryption.
type FFNFunc func(layer int, xf []float64, n int) ([]float64, error)

// ForwardFFN runs every sequence of seqs (each from position 0) through w
// layer by layer, all sequences in lock step, with the FFN of every layer
// computed by ffn on the stacked positions of all sequences. It returns
// the logits of every position of every sequence (len(seq) × VocabSize).
// With ffn computing the plain FFN it equals Forward.
func (w *Weights) ForwardFFN(seqs [][]int, ffn FFNFunc) ([][]float64, error) {
	c := w.Config
	d, V := c.Dim, c.VocabSize
	tapes := make([]Tape, len(seqs))
	xs := make([][]float64, len(seqs))
	n := 0
	for i, s := range seqs {
		if len(s) == 0 || len(s) > c.SeqLen {
			return nil, fmt.Errorf("llama2c: sequence %d has %d tokens (want 1..%d)", i, len(s), c.SeqLen)
		}
		for _, id := range s {
			if id < 0 || id >= V {
				return nil, fmt.Errorf("llama2c: token %d out of range [0, %d)", id, V)
			}
		}
		tapes[i].size(c, len(s))
		xs[i] = make([]float64, len(s)*d)
		for t, id := range s {
			copy(xs[i][t*d:(t+1)*d], w.TokenEmbedding[id*d:(id+1)*d])
		}
		n += len(s)
	}
	tmp := make([]float64, d)
	xf := make([]float64, n*d)
	for l := range w.Layers {
		row := 0
		for i, s := range seqs {
			lt := &tapes[i].layers[l]
			w.attnStage(l, len(s), xs[i], lt, tmp)
			for t := range s {
				rmsnormFwd(xf[row*d:(row+1)*d], xs[i][t*d:(t+1)*d], w.Layers[l].RMSFFN)
				row++
			}
		}
		out, err := ffn(l, xf, n)
		if err != nil {
			return nil, fmt.Errorf("layer %d FFN: %w", l, err)
		}
		if len(out) != n*d {
			return nil, fmt.Errorf("llama2c: layer %d FFN returned %d values, want %d", l, len(out), n*d)
		}
		row = 0
		for i, s := range seqs {
			for t := range s {
				for j := range d {
					xs[i][t*d+j] += out[row*d+j]
				}
				row++
			}
		}
	}
	logits := make([][]float64, len(seqs))
	xn := make([]float64, d)
	for i, s := range seqs {
		logits[i] = make([]float64, len(s)*V)
		for t := range s {
			rmsnormFwd(xn, xs[i][t*d:(t+1)*d], w.RMSFinal)
			mv(logits[i][t*V:(t+1)*V], w.Classifier, xn)
		}
	}
	return logits, nil
}

// FFN computes layer l's FFN block in plaintext on n rows of normalised
// inputs xf: the reference an encrypted FFNFunc is checked against.
func (w *Weights) FFN(l int, xf []float64, n int) []float64 {
	d, hd := w.Dim, w.HiddenDim
	L := &w.Layers[l]
	out := make([]float64, n*d)
	h1, h3, m := make([]float64, hd), make([]float64, hd), make([]float64, hd)
	for r := range n {
		x := xf[r*d : (r+1)*d]
		mv(h1, L.W1, x)
		mv(h3, L.W3, x)
		gateFwd(m, h1, h3, w.Gate[l])
		mv(out[r*d:(r+1)*d], L.W2, m)
	}
	return out
}
