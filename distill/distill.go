package distill

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/calib"
	"github.com/krelu/krelu/llama2c"
	"github.com/krelu/krelu/optim"
)

// Starting points of the degree-2 gate, by name.
const (
	// StartKernel is the paper's method: per layer, the least-squares
	// quadratic of the Gaussian-kernel-smoothed ReLU (ReLU ∗ K_h), h by the
	// engine's cross-validation, weighted by the layer's real
	// pre-activations.
	StartKernel = "kernel"
	// StartKernelSiLU applies the kernel method to the model's real
	// activation: SiLU ∗ K_h with the h that ReLU's cross-validation picks
	// (krelu llm-eval's silu:gaussian with --bandwidth auto).
	StartKernelSiLU = "kernel-silu"
	// StartDirect is the direct least-squares quadratic of SiLU on each
	// layer's pre-activations (no kernel).
	StartDirect = "direct"
	// StartSquare is x² in every layer (CryptoNets).
	StartSquare = "square"
	// StartRandom is a random quadratic per layer, coefficients N(0, 0.5²)
	// from the seed.
	StartRandom = "random"
)

// StartNames lists the starting points Run accepts.
var StartNames = []string{StartKernel, StartKernelSiLU, StartDirect, StartSquare, StartRandom}

// EvalSet is held-out text on which the student is scored.
type EvalSet struct {
	Name string
	Seqs [][]int
}

// Options configure Run. Zero values are not defaults: Validate rejects
// them where they make no sense.
type Options struct {
	Teacher *llama2c.Model
	// Train are the training sequences (each from position 0), text the
	// teacher generated; Evals the held-out sets.
	Train [][]int
	Evals []EvalSet
	// Starts are StartNames entries, each one training run.
	Starts []string
	// Budgets are the step counts at which each run is scored, ascending;
	// each run trains for the last one. 0 scores the starting point.
	Budgets []int
	Batch   int     // sequences per step
	MaxLen  int     // tokens per training sequence (its first MaxLen); ≥ 2
	LR      float64 // Adam learning rate
	// CE weighs the cross-entropy of the sampled next token beside the KL
	// to the teacher (weight 1); 0 is pure distillation.
	CE   float64
	Clip float64 // global gradient-norm clip (0 = none)
	// FreezeGate keeps the polynomial coefficients at their start.
	FreezeGate bool
	Seed       uint64
	Workers    int
	// CalibValues is the per-layer reservoir size of the pre-activations
	// the kernel and direct fits are weighted by.
	CalibValues int
	// MaxTime, when positive, stops before the next budget when, at the
	// time per step so far, reaching it would take training and scoring
	// past MaxTime; every start keeps the same budget.
	MaxTime time.Duration
	Log     io.Writer // progress; nil = none
}

// Validate checks the options before any heavy work.
func (o *Options) Validate() error {
	switch {
	case o.Teacher == nil:
		return errors.New("distill: no teacher model")
	case len(o.Train) == 0:
		return errors.New("distill: no training sequences")
	case len(o.Starts) == 0:
		return errors.New("distill: no starting point")
	case len(o.Budgets) == 0:
		return errors.New("distill: no budget")
	case o.Batch < 1:
		return fmt.Errorf("distill: batch %d must be ≥ 1", o.Batch)
	case o.MaxLen < 2 || o.MaxLen > o.Teacher.SeqLen:
		return fmt.Errorf("distill: max length %d must be in [2, %d]", o.MaxLen, o.Teacher.SeqLen)
	case !(o.LR > 0) || math.IsInf(o.LR, 0):
		return fmt.Errorf("distill: learning rate %v must be positive and finite", o.LR)
	case !(o.CE >= 0) || math.IsInf(o.CE, 0):
		return fmt.Errorf("distill: cross-entropy weight %v must be ≥ 0 and finite", o.CE)
	case !(o.Clip >= 0) || math.IsInf(o.Clip, 0):
		return fmt.Errorf("distill: clip %v must be ≥ 0 and finite", o.Clip)
	case o.Workers < 1:
		return fmt.Errorf("distill: workers %d must be ≥ 1", o.Workers)
	case o.CalibValues < 100:
		return fmt.Errorf("distill: %d calibration values per layer, want ≥ 100", o.CalibValues)
	}
	for _, s := range o.Starts {
		if !slices.Contains(StartNames, s) {
			return fmt.Errorf("distill: unknown starting point %q (want one of %v)", s, StartNames)
		}
	}
	for i, b := range o.Budgets {
		if b < 0 || (i > 0 && b <= o.Budgets[i-1]) {
			return fmt.Errorf("distill: budgets %v must be ≥ 0 and strictly ascending", o.Budgets)
		}
	}
	return nil
}

// Start is a starting point: one quadratic per layer.
type Start struct {
	Name string      `json:"name"`
	Gate [][]float64 `json:"gate"`                // per layer, power basis
	H    []float64   `json:"bandwidth,omitempty"` // kernel bandwidth per layer
	// Interval is the fit interval per layer (max |x| of the calibration
	// pre-activations for the fixed quadratics).
	Interval [][2]float64 `json:"interval"`
}

// Row is one scored checkpoint.
type Row struct {
	Start string `json:"start"`
	Steps int    `json:"steps"`
	Text  string `json:"text"`
	llama2c.Fidelity
	// TrainKL is the mean KL per position of the training batches of the
	// last 10 % of the steps so far (NaN at step 0).
	TrainKL float64     `json:"train_kl"`
	Gate    [][]float64 `json:"gate"`
}

// Run is the result of a distillation comparison.
type Result struct {
	Starts []Start `json:"starts"`
	Rows   []Row   `json:"rows"`
	// StepSeconds are the wall-clock seconds of each training step of every
	// run (the machine may be shared).
	StepSeconds []float64 `json:"step_seconds"`
	// Stopped says why training ended before the last budget, if it did.
	Stopped string `json:"stopped,omitempty"`
	// Final holds each run's weights after the last budget reached.
	Final map[string]*llama2c.Weights `json:"-"`
}

// Run fits the starting points on the teacher's pre-activations of the
// training text, then for each starting point replaces SiLU by its
// quadratics and fine-tunes every weight (and, unless FreezeGate, the
// quadratics) with Adam on the KL divergence to the teacher's next-token
// distribution, scoring the student on every EvalSet at each budget.
// Every run sees the same batches in the same order.
func Run(opt Options) (*Result, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format, a...)
		}
	}
	teacher := llama2c.NewWeights(opt.Teacher)
	train := make([][]int, 0, len(opt.Train))
	for _, s := range opt.Train {
		if len(s) > opt.MaxLen+1 {
			s = s[:opt.MaxLen+1]
		}
		train = append(train, s)
	}
	t0 := time.Now()
	trainRef, err := llama2c.NewReference(teacher, train, opt.Workers)
	if err != nil {
		return nil, fmt.Errorf("distill: teacher on the training text: %w", err)
	}
	refs := make([]*llama2c.Reference, len(opt.Evals))
	for i, e := range opt.Evals {
		if refs[i], err = llama2c.NewReference(teacher, e.Seqs, opt.Workers); err != nil {
			return nil, fmt.Errorf("distill: teacher on %s: %w", e.Name, err)
		}
	}
	logf("teacher log-probabilities: %d training and %d held-out sets in %.1fs\n", trainRef.Sequences(), len(refs), time.Since(t0).Seconds())
	res := &Result{Final: map[string]*llama2c.Weights{}}
	// The fits and the fixed quadratics' intervals need each layer's
	// pre-activations on the training text.
	pre := make([]*calib.Reservoir, teacher.NLayers)
	for l := range pre {
		pre[l] = calib.NewReservoir(opt.CalibValues, opt.Seed+uint64(l))
	}
	if _, err := calib.FFNPreActivations(opt.Teacher, train, pre); err != nil {
		return nil, err
	}
	for _, name := range opt.Starts {
		st, err := startingPoint(name, pre, opt.Seed)
		if err != nil {
			return nil, err
		}
		res.Starts = append(res.Starts, st)
		logf("start %s: %v\n", name, st.Gate)
	}
	// All starts advance budget by budget, so that when MaxTime runs out
	// every start has had the same number of steps.
	runs := make([]*run, len(res.Starts))
	for i, st := range res.Starts {
		runs[i] = newRun(st, opt)
	}
	tStart := time.Now()
	for bi, b := range opt.Budgets {
		// Projected from the time per step so far (scoring included).
		if el := time.Since(tStart); bi > 1 && opt.MaxTime > 0 &&
			el+el/time.Duration(opt.Budgets[bi-1])*time.Duration(b-opt.Budgets[bi-1]) > opt.MaxTime {
			res.Stopped = fmt.Sprintf("stopped before budget %d: the time limit %v was reached after budget %d", b, opt.MaxTime, opt.Budgets[bi-1])
			logf("%s\n", res.Stopped)
			break
		}
		for _, r := range runs {
			if err := r.advance(b, trainRef, opt, logf); err != nil {
				return nil, fmt.Errorf("distill: start %s: %w", r.st.Name, err)
			}
			rows, err := r.score(refs, opt, logf)
			if err != nil {
				return nil, fmt.Errorf("distill: start %s: %w", r.st.Name, err)
			}
			res.Rows = append(res.Rows, rows...)
		}
	}
	for _, r := range runs {
		res.StepSeconds = append(res.StepSeconds, r.secs...)
		res.Final[r.st.Name] = r.w
	}
	return res, nil
}

// startingPoint builds the per-layer quadratics of a start.
func startingPoint(name string, res []*calib.Reservoir, seed uint64) (Start, error) {
	st := Start{Name: name}
	rng := rand.New(rand.NewPCG(seed, 0x72616e64))
	for l := range res {
		smp, err := approx.NewSample(fmt.Sprintf("layer %d pre-activations", l), res[l].Values)
		if err != nil {
			return st, err
		}
		fit := func(target, kernel string, h float64, auto bool) (*approx.Activation, error) {
			return approx.FitActivation(approx.FitOptions{Target: target, Kernel: kernel, Bandwidth: h, AutoBandwidth: auto,
				Degree: 2, Method: approx.MethodLS, Interval: "auto", Calibration: smp})
		}
		var a *approx.Activation
		switch name {
		case StartKernel:
			a, err = fit("relu", "gaussian", 0, true)
		case StartKernelSiLU:
			if a, err = fit("relu", "gaussian", 0, true); err == nil {
				a, err = fit("silu", "gaussian", a.Bandwidth, false)
			}
		case StartDirect:
			a, err = fit("silu", "none", 0, false)
		}
		if err != nil {
			return st, fmt.Errorf("layer %d: %w", l, err)
		}
		B := res[l].MaxAbs
		switch {
		case a != nil:
			st.Gate = append(st.Gate, append([]float64(nil), a.Coefficients...))
			st.H = append(st.H, a.Bandwidth)
			st.Interval = append(st.Interval, a.Interval)
		case name == StartSquare:
			st.Gate = append(st.Gate, []float64{0, 0, 1})
			st.Interval = append(st.Interval, [2]float64{-B, B})
		default:
			st.Gate = append(st.Gate, []float64{0.5 * rng.NormFloat64(), 0.5 * rng.NormFloat64(), 0.5 * rng.NormFloat64()})
			st.Interval = append(st.Interval, [2]float64{-B, B})
		}
	}
	return st, nil
}

// worker holds one goroutine's scratch state.
type worker struct {
	tp      llama2c.Tape
	g       *llama2c.Weights
	dlogits []float64
	teach   []float64
	kl      float64
	n       int
}

// run is one start's training state.
type run struct {
	st      Start
	w, g    *llama2c.Weights
	ws      []*worker
	adam    *optim.Adam
	tensors []optim.Tensor
	rng     *rand.Rand
	step    int
	recent  []float64
	secs    []float64
}

func newRun(st Start, opt Options) *run {
	w := llama2c.NewWeights(opt.Teacher)
	for l := range w.Gate {
		w.Gate[l] = append([]float64(nil), st.Gate[l]...)
	}
	g := w.Clone()
	g.Zero()
	r := &run{st: st, w: w, g: g, adam: optim.NewAdam(opt.LR),
		// The same batches for every start.
		rng: rand.New(rand.NewPCG(opt.Seed, 0x62617463))}
	r.adam.Clip = opt.Clip
	r.tensors = w.Tensors(g, opt.FreezeGate)
	for range opt.Workers {
		r.ws = append(r.ws, &worker{g: w.Clone()})
	}
	return r
}

// score measures the run's current weights on every held-out set.
func (r *run) score(refs []*llama2c.Reference, opt Options, logf func(string, ...any)) ([]Row, error) {
	trainKL := math.NaN()
	if len(r.recent) > 0 {
		k := max(1, len(r.recent)/10)
		var s float64
		for _, v := range r.recent[len(r.recent)-k:] {
			s += v
		}
		trainKL = s / float64(k)
	}
	var rows []Row
	for i, ref := range refs {
		f, err := ref.Score(r.w, opt.Workers)
		if err != nil {
			return nil, err
		}
		rows = append(rows, Row{Start: r.st.Name, Steps: r.step, Text: opt.Evals[i].Name, Fidelity: f, TrainKL: trainKL, Gate: clone2(r.w.Gate)})
		logf("%s step %d %s: perplexity %.4g (teacher %.4g), top-1 %.4f, KL %.4g, diverged %d\n", r.st.Name, r.step, opt.Evals[i].Name,
			f.Perplexity, f.RefPerplexity, f.Top1Agreement, f.KL, f.Diverged)
	}
	return rows, nil
}

// advance trains until step == to.
func (r *run) advance(to int, trainRef *llama2c.Reference, opt Options, logf func(string, ...any)) error {
	V := r.w.VocabSize
	for ; r.step < to; r.step++ {
		t0 := time.Now()
		batch := make([]int, opt.Batch)
		for i := range batch {
			batch[i] = r.rng.IntN(trainRef.Sequences())
		}
		var wg sync.WaitGroup
		errs := make([]error, len(r.ws))
		for k, wk := range r.ws {
			wk.g.Zero()
			wk.kl, wk.n = 0, 0
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := k; j < len(batch); j += len(r.ws) {
					if err := wk.step(r.w, trainRef, batch[j], V, opt.CE); err != nil {
						errs[k] = err
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("step %d: %w", r.step+1, err)
		}
		r.g.Zero()
		var kl float64
		var n int
		for _, wk := range r.ws {
			r.g.Add(wk.g)
			kl += wk.kl
			n += wk.n
		}
		r.adam.Step(r.tensors, 1/float64(n))
		r.recent = append(r.recent, kl/float64(n))
		r.secs = append(r.secs, time.Since(t0).Seconds())
		if (r.step+1)%25 == 0 {
			logf("%s step %d: train KL %.4g, %.2fs/step\n", r.st.Name, r.step+1, kl/float64(n), r.secs[len(r.secs)-1])
		}
	}
	return nil
}

// step adds one sequence's gradient to wk.g.
func (wk *worker) step(w *llama2c.Weights, ref *llama2c.Reference, i, V int, ce float64) error {
	s := ref.Tokens(i)
	in := s[:len(s)-1]
	if err := w.Forward(in, &wk.tp); err != nil {
		return err
	}
	lp := ref.LogProbs(i)
	wk.teach = slices.Grow(wk.teach[:0], len(lp))[:len(lp)]
	for j, v := range lp {
		wk.teach[j] = float64(v)
	}
	wk.dlogits = slices.Grow(wk.dlogits[:0], len(lp))[:len(lp)]
	kl, _ := llama2c.DistillLoss(wk.tp.AllLogits(len(in), V), wk.teach, in, V, 1, ce, wk.dlogits)
	w.Backward(&wk.tp, wk.dlogits, wk.g)
	wk.kl += kl
	wk.n += len(in)
	return nil
}

func clone2(g [][]float64) [][]float64 {
	out := make([][]float64, len(g))
	for i, c := range g {
		out[i] = append([]float64(nil), c...)
	}
	return out
}
