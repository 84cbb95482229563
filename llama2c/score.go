package llama2c

import (
	"errors"
	"fmt"
	"github.com/krelu/krelu/internal/logits"
	"math"
	"sync"
)

// fidelityAcc accumulates Fidelity over positions from the two models'
// next-token log-probabilities; Compare and Reference.Score share it.
type fidelityAcc struct {
	f               Fidelity
	nll, refNLL, kl float64
	agree           int
}

// add scores one position: pRef, pSub are log-probabilities (pSub nil or
// ok false when the replaced model diverged), next the true next token.
func (a *fidelityAcc) add(pRef, pSub []float64, ok bool, next int) {
	a.f.Positions++
	a.refNLL -= pRef[next]
	if !ok {
		a.f.Diverged++
		a.nll, a.kl = math.Inf(1), math.Inf(1)
		a.f.KLMax = math.Inf(1)
		return
	}
	a.nll -= pSub[next]
	if logits.Argmax(pRef) == logits.Argmax(pSub) {
		a.agree++
	}
	var d float64
	for i, lp := range pRef {
		d += math.Exp(lp) * (lp - pSub[i])
	}
	d = math.Max(d, 0) // rounding can make an exact match slightly negative
	a.kl += d
	a.f.KLMax = math.Max(a.f.KLMax, d)
}

func (a *fidelityAcc) merge(b *fidelityAcc) {
	a.f.Sequences += b.f.Sequences
	a.f.Positions += b.f.Positions
	a.f.Diverged += b.f.Diverged
	a.f.KLMax = math.Max(a.f.KLMax, b.f.KLMax)
	a.nll += b.nll
	a.refNLL += b.refNLL
	a.kl += b.kl
	a.agree += b.agree
}

func (a *fidelityAcc) result() (Fidelity, error) {
	f := a.f
	if f.Positions == 0 {
		return Fidelity{}, errors.New("llama2c: no sequence has two tokens to score")
	}
	n := float64(f.Positions)
	f.Perplexity = math.Exp(a.nll / n)
	f.RefPerplexity = math.Exp(a.refNLL / n)
	f.Top1Agreement = float64(a.agree) / n
	f.KL = a.kl / n
	return f, nil
}

// Reference holds a reference model's next-token log-probabilities on a
// fixed set of sequences, so that many candidate models (for instance the
// checkpoints of a distillation run) are scored against it without
// re-running it.
type Reference struct {
	seqs [][]int
	logp [][]float32 // per sequence, (len−1) × VocabSize
	v    int
}

// NewReference runs ref over seqs (each from position 0; sequences shorter
// than two tokens are skipped) with the given number of goroutines.
func NewReference(ref *Weights, seqs [][]int, workers int) (*Reference, error) {
	r := &Reference{v: ref.VocabSize}
	for i, s := range seqs {
		if len(s) > ref.SeqLen {
			return nil, fmt.Errorf("llama2c: sequence %d has %d tokens, more than seq_len %d", i, len(s), ref.SeqLen)
		}
		if len(s) >= 2 {
			r.seqs = append(r.seqs, s)
		}
	}
	if len(r.seqs) == 0 {
		return nil, errors.New("llama2c: no sequence has two tokens to score")
	}
	r.logp = make([][]float32, len(r.seqs))
	err := parallel(len(r.seqs), workers, func(i int, tp *Tape) error {
		s := r.seqs[i]
		if err := ref.Forward(s[:len(s)-1], tp); err != nil {
			return fmt.Errorf("reference, sequence %d: %w", i, err)
		}
		lp := tp.LogProbs(r.v)
		r.logp[i] = make([]float32, len(lp))
		for j, x := range lp {
			r.logp[i][j] = float32(x)
		}
		return nil
	})
	return r, err
}

// Sequences returns the number of scored sequences.
func (r *Reference) Sequences() int { return len(r.seqs) }

// Score runs w over the reference's sequences and measures it against the
// reference (the reference's log-probabilities were rounded to float32).
func (r *Reference) Score(w *Weights, workers int) (Fidelity, error) {
	if w.VocabSize != r.v {
		return Fidelity{}, fmt.Errorf("llama2c: model vocabulary %d, reference %d", w.VocabSize, r.v)
	}
	accs := make([]fidelityAcc, len(r.seqs))
	err := parallel(len(r.seqs), workers, func(i int, tp *Tape) error {
		s := r.seqs[i]
		acc := &accs[i]
		acc.f.Sequences = 1
		err := w.Forward(s[:len(s)-1], tp)
		if err != nil && !errors.Is(err, ErrNotFinite) {
			return err
		}
		pRef := make([]float64, r.v)
		pSub := make([]float64, r.v)
		for t := 0; t+1 < len(s); t++ {
			for j, x := range r.logp[i][t*r.v : (t+1)*r.v] {
				pRef[j] = float64(x)
			}
			ok := logSoftmax(pSub, tp.Logits(t, r.v))
			acc.add(pRef, pSub, ok, s[t+1])
		}
		return nil
	})
	if err != nil {
		return Fidelity{}, err
	}
	var tot fidelityAcc
	for i := range accs {
		tot.merge(&accs[i])
	}
	return tot.result()
}

// parallel calls f(i, tape) for i in [0, n) on workers goroutines, each
// with its own Tape, and returns the first error.
func parallel(n, workers int, f func(i int, tp *Tape) error) error {
	workers = max(1, min(workers, n))
	var wg sync.WaitGroup
	errs := make([]error, workers)
	next := make(chan int)
	for k := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var tp Tape
			for i := range next {
				if errs[k] == nil {
					errs[k] = f(i, &tp)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// Tokens returns the i-th scored sequence.
func (r *Reference) Tokens(i int) []int { return r.seqs[i] }

// LogProbs returns the reference's next-token log-probabilities for the
// first len(Tokens(i))−1 positions of sequence i ((len−1) × VocabSize):
// a distillation target.
func (r *Reference) LogProbs(i int) []float32 { return r.logp[i] }

// FidelityOf measures logits sub against reference logits ref (per
// sequence, positions × v) where next[i][t] is the token that follows
// position t of sequence i.
func FidelityOf(ref, sub [][]float64, next [][]int, v int) (Fidelity, error) {
	if len(ref) != len(sub) || len(ref) != len(next) {
		return Fidelity{}, fmt.Errorf("llama2c: %d reference, %d scored and %d target sequences", len(ref), len(sub), len(next))
	}
	var acc fidelityAcc
	pRef, pSub := make([]float64, v), make([]float64, v)
	for i := range ref {
		n := len(next[i])
		if len(ref[i]) != n*v || len(sub[i]) != n*v {
			return Fidelity{}, fmt.Errorf("llama2c: sequence %d: %d/%d logits for %d positions of %d", i, len(ref[i]), len(sub[i]), n, v)
		}
		acc.f.Sequences++
		for t := range n {
			logSoftmax(pRef, ref[i][t*v:(t+1)*v])
			ok := logSoftmax(pSub, sub[i][t*v:(t+1)*v])
			acc.add(pRef, pSub, ok, next[i][t])
		}
	}
	return acc.result()
}
