package he

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/krelu/krelu/activation"
	"github.com/krelu/krelu/internal/cputime"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Report is the outcome of evaluating a fitted activation on encrypted
// values: fidelity, levels and time per stage, with the generic evaluator
// and a bare ciphertext square measured in the same run at the same level.
type Report struct {
	LogN   int    `json:"logn"`
	Preset string `json:"preset"`
	// LogQP is log2 of the full modulus; MaxLogQP the 128-bit bound.
	LogQP    float64 `json:"log_qp"`
	MaxLogQP float64 `json:"max_log_qp"`
	LogScale float64 `json:"log_scale"`
	Slots    int     `json:"slots"`
	Values   int     `json:"n_values"`
	// Ciphertexts is the number of ciphertexts the values filled.
	Ciphertexts int       `json:"ciphertexts"`
	Degree      int       `json:"degree"`
	Coeffs      []float64 `json:"coefficients"`
	Method      string    `json:"method"`
	// Level is the encryption level shared by the three measured
	// evaluations (the generic evaluator's minimum).
	Level                 int     `json:"encrypt_level"`
	LevelsConsumed        int     `json:"levels_consumed"`
	GenericLevelsConsumed int     `json:"generic_levels_consumed"`
	PrecisionBits         float64 `json:"precision_bits"`
	MinPrecisionBits      float64 `json:"min_precision_bits"`
	GenericPrecisionBits  float64 `json:"generic_precision_bits"`
	MaxAbsErrVsPoly       float64 `json:"max_abs_error_vs_poly"`
	MeanAbsErrVsPoly      float64 `json:"mean_abs_error_vs_poly"`
	MaxAbsErrVsReLU       float64 `json:"max_abs_error_vs_relu"`
	MeanAbsErrVsReLU      float64 `json:"mean_abs_error_vs_relu"`
	// PlainMaxAbsErrVsReLU is the same against ReLU in plaintext: what
	// the polynomial itself costs, before encryption noise.
	PlainMaxAbsErrVsReLU float64 `json:"plain_max_abs_error_vs_relu"`

	KeygenSeconds  float64 `json:"keygen_seconds"`
	EncryptSeconds float64 `json:"encrypt_seconds"`
	// EvalSeconds, BareSquareSeconds and GenericEvalSeconds are wall-clock
	// medians per ciphertext over Reps interleaved repetitions at Level;
	// the *CPUSeconds twins are the evaluating thread's CPU time, which a
	// loaded machine disturbs far less. The ratios use CPU time.
	EvalSeconds           float64 `json:"eval_seconds"`
	BareSquareSeconds     float64 `json:"bare_square_seconds"`
	GenericEvalSeconds    float64 `json:"generic_eval_seconds"`
	EvalCPUSeconds        float64 `json:"eval_cpu_seconds"`
	BareSquareCPUSeconds  float64 `json:"bare_square_cpu_seconds"`
	GenericEvalCPUSeconds float64 `json:"generic_eval_cpu_seconds"`
	// EvalLowestSeconds is the activation encrypted at its own minimum
	// level (1 for degree 2), as a planner would run it.
	EvalLowestLevel      int     `json:"eval_lowest_level"`
	EvalLowestSeconds    float64 `json:"eval_lowest_seconds"`
	EvalLowestCPUSeconds float64 `json:"eval_lowest_cpu_seconds"`
	DecryptSeconds       float64 `json:"decrypt_seconds"`
	EvalOverSquare       float64 `json:"eval_over_square"`
	GenericOverEval      float64 `json:"generic_over_eval"`
	// Throughput is slots per CPU second of the activation at Level, one
	// goroutine; ParallelThroughput is slots per wall-clock second with
	// Workers goroutines on independent ciphertexts (it depends on how
	// busy the machine is).
	Throughput         float64 `json:"throughput_slots_per_second"`
	Workers            int     `json:"workers"`
	ParallelThroughput float64 `json:"parallel_throughput_slots_per_second"`
	Reps               int     `json:"reps"`

	Interval [2]float64 `json:"interval"`
	Outside  int        `json:"outside_interval"`
	Warning  string     `json:"warning,omitempty"`
}

// ReportOptions tune [RunReport].
type ReportOptions struct {
	// LogN selects the ring degree (13…16); 0 lets the planner choose.
	LogN int
	// Reps is the number of timed repetitions (median reported); 0 → 3.
	Reps int
	// Workers is the number of goroutines for the parallel throughput
	// measurement; 0 → runtime.NumCPU().
	Workers int
}

// RunActivationReport encrypts values, evaluates act on them, decrypts and
// measures it (see Report) at ring degree 2^logN (0: planner's choice).
// It is the encrypted step of `krelu he` and `krelu demo`.
func RunActivationReport(act *activation.Activation, values []float64, logN int) (*Report, error) {
	return RunReport(act, values, ReportOptions{LogN: logN})
}

// maxReportValues bounds the work of one report.
const maxReportValues = 1 << 20

// RunReport is RunActivationReport with options.
func RunReport(act *activation.Activation, values []float64, opt ReportOptions) (*Report, error) {
	if err := checkReportInputs(act, values); err != nil {
		return nil, err
	}
	rr, err := newReportRun(act, values, opt)
	if err != nil {
		return nil, err
	}
	r := rr.r
	if err := rr.timeAtTop(); err != nil {
		return nil, err
	}
	if err := rr.timeAtLowest(); err != nil {
		return nil, err
	}
	if r.ParallelThroughput, err = parallelThroughput(rr.keys, act, rr.cts[0], r.Workers, r.Reps, r.Slots); err != nil {
		return nil, err
	}
	if err := rr.measureErrors(values); err != nil {
		return nil, err
	}
	r.Warning = rr.warnings(len(values))
	return r, nil
}

func checkReportInputs(act *activation.Activation, values []float64) error {
	if act == nil {
		return fmt.Errorf("he: nil activation")
	}
	if err := act.Validate(); err != nil {
		return err
	}
	if len(values) == 0 {
		return fmt.Errorf("he: no values to encrypt")
	}
	if len(values) > maxReportValues {
		return fmt.Errorf("he: %d values exceed the report limit of %d", len(values), maxReportValues)
	}
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("he: value %d is %v", i, v)
		}
	}
	return nil
}

// reportRun is the state of one RunReport: keys, the values encrypted in
// slot-sized chunks, and the evaluated ciphertexts.
type reportRun struct {
	r          *Report
	act        *activation.Activation
	p          activation.Poly
	params     ckks.Parameters
	owner      *KeyOwner
	keys       *EvaluationKeys
	eval       *ckks.Evaluator
	chunks     [][]float64
	cts        []*rlwe.Ciphertext
	outs, gens []*rlwe.Ciphertext // the activation's and the generic evaluator's results
}

// newReportRun plans the parameters, generates keys and encrypts values.
func newReportRun(act *activation.Activation, values []float64, opt ReportOptions) (*reportRun, error) {
	reps := opt.Reps
	if reps <= 0 {
		reps = 3
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	p := act.Poly()
	deg := p.Degree()
	actDepth := ActivationDepth(act)
	level := max(actDepth, PolyDepth(deg), 1)
	plan, err := NewPlan(level, 0, opt.LogN)
	if err != nil {
		return nil, err
	}
	params := plan.Params
	bound, _ := MaxLogQP(params.LogN())
	r := &Report{
		LogN: params.LogN(), Preset: plan.Preset.Name, LogQP: params.LogQP(), MaxLogQP: bound,
		LogScale: params.DefaultScale().Log2(), Slots: params.MaxSlots(), Values: len(values),
		Degree: deg, Coeffs: append([]float64(nil), p[:deg+1]...), Method: act.Method,
		Level: level, Reps: reps, Workers: workers, Interval: act.Interval,
		EvalLowestLevel: max(actDepth, 1),
	}
	rr := &reportRun{r: r, act: act, p: p, params: params}
	t0 := time.Now()
	if rr.owner, err = NewKeyOwner(params); err != nil {
		return nil, err
	}
	if rr.keys, err = rr.owner.EvaluationKeys(); err != nil {
		return nil, err
	}
	r.KeygenSeconds = time.Since(t0).Seconds()
	rr.eval = rr.keys.NewEvaluator()

	for i := 0; i < len(values); i += r.Slots {
		rr.chunks = append(rr.chunks, values[i:min(i+r.Slots, len(values))])
	}
	r.Ciphertexts = len(rr.chunks)
	var encT []float64
	rr.cts = make([]*rlwe.Ciphertext, len(rr.chunks))
	for i, c := range rr.chunks {
		t := time.Now()
		if rr.cts[i], err = rr.owner.Encrypt(c, level); err != nil {
			return nil, err
		}
		encT = append(encT, time.Since(t).Seconds())
	}
	r.EncryptSeconds = median(encT)
	return rr, nil
}

func (rr *reportRun) primary(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	return EvalActivation(rr.eval, ct, rr.act)
}

// timeAtTop times the activation, a bare square and the generic evaluator
// at the top level, interleaved so that machine load hits them alike.
func (rr *reportRun) timeAtTop() error {
	r := rr.r
	generic := func(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) { return EvalPolynomial(rr.eval, ct, rr.p) }
	square := func(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) { return Square(rr.eval, ct) }
	var tAct, tSq, tGen [][2]float64
	rr.outs = make([]*rlwe.Ciphertext, len(rr.cts))
	rr.gens = make([]*rlwe.Ciphertext, len(rr.cts))
	for rep := 0; rep < r.Reps; rep++ {
		for i, ct := range rr.cts {
			if rep == 0 || i == 0 {
				var d [2]float64
				var err error
				if rr.outs[i], d, err = timed(rr.primary, ct); err != nil {
					return err
				}
				tAct = append(tAct, d)
				if _, d, err = timed(square, ct); err != nil {
					return err
				}
				tSq = append(tSq, d)
				if rr.gens[i], d, err = timed(generic, ct); err != nil {
					return err
				}
				tGen = append(tGen, d)
			}
		}
	}
	r.EvalSeconds, r.BareSquareSeconds, r.GenericEvalSeconds = median2(tAct, 0), median2(tSq, 0), median2(tGen, 0)
	r.EvalCPUSeconds, r.BareSquareCPUSeconds, r.GenericEvalCPUSeconds = median2(tAct, 1), median2(tSq, 1), median2(tGen, 1)
	r.EvalOverSquare = cpuRatio(r.EvalCPUSeconds, r.BareSquareCPUSeconds, r.EvalSeconds, r.BareSquareSeconds)
	r.GenericOverEval = cpuRatio(r.GenericEvalCPUSeconds, r.EvalCPUSeconds, r.GenericEvalSeconds, r.EvalSeconds)
	r.Throughput = cpuRatio(float64(r.Slots), r.EvalCPUSeconds, float64(r.Slots), r.EvalSeconds)
	r.LevelsConsumed = r.Level - rr.outs[0].Level()
	r.GenericLevelsConsumed = r.Level - rr.gens[0].Level()
	return nil
}

// timeAtLowest times the activation on a ciphertext at the lowest level
// it can run at, where it is cheapest.
func (rr *reportRun) timeAtLowest() error {
	low, err := rr.owner.Encrypt(rr.chunks[0], rr.r.EvalLowestLevel)
	if err != nil {
		return err
	}
	var tLow [][2]float64
	for rep := 0; rep < rr.r.Reps; rep++ {
		_, d, err := timed(rr.primary, low)
		if err != nil {
			return err
		}
		tLow = append(tLow, d)
	}
	rr.r.EvalLowestSeconds, rr.r.EvalLowestCPUSeconds = median2(tLow, 0), median2(tLow, 1)
	return nil
}

// measureErrors decrypts the results and compares them with the
// plaintext polynomial and with ReLU.
func (rr *reportRun) measureErrors(values []float64) error {
	r := rr.r
	var decT []float64
	var have, haveGen []float64
	for i := range rr.outs {
		t := time.Now()
		d, err := rr.owner.Decrypt(rr.outs[i])
		if err != nil {
			return err
		}
		decT = append(decT, time.Since(t).Seconds())
		g, err := rr.owner.Decrypt(rr.gens[i])
		if err != nil {
			return err
		}
		have = append(have, d[:len(rr.chunks[i])]...)
		haveGen = append(haveGen, g[:len(rr.chunks[i])]...)
	}
	r.DecryptSeconds = median(decT)
	want := make([]float64, len(values))
	var sumPoly, sumReLU float64
	for i, x := range values {
		want[i] = rr.p.Eval(x)
		relu := math.Max(x, 0)
		ep, er := math.Abs(have[i]-want[i]), math.Abs(have[i]-relu)
		r.MaxAbsErrVsPoly = math.Max(r.MaxAbsErrVsPoly, ep)
		r.MaxAbsErrVsReLU = math.Max(r.MaxAbsErrVsReLU, er)
		r.PlainMaxAbsErrVsReLU = math.Max(r.PlainMaxAbsErrVsReLU, math.Abs(want[i]-relu))
		sumPoly += ep
		sumReLU += er
		if x < rr.act.Interval[0] || x > rr.act.Interval[1] {
			r.Outside++
		}
	}
	r.MeanAbsErrVsPoly = sumPoly / float64(len(values))
	r.MeanAbsErrVsReLU = sumReLU / float64(len(values))
	st := PrecisionStats(rr.params, want, have)
	r.PrecisionBits, r.MinPrecisionBits = st.AVGLog2Prec.Real, st.MINLog2Prec.Real
	r.GenericPrecisionBits = PrecisionStats(rr.params, want, haveGen).AVGLog2Prec.Real
	return nil
}

// warnings says when the report's figures are not to be trusted.
func (rr *reportRun) warnings(n int) string {
	r := rr.r
	var w []string
	if r.MinPrecisionBits < minTrustedBits {
		w = append(w, fmt.Sprintf("the decrypted values match the plaintext polynomial to only %.1f bits (min): "+
			"the values or the polynomial's powers exceed what the parameters carry at scale 2^%.0f, so the encrypted outputs are not usable",
			r.MinPrecisionBits, r.LogScale))
	}
	if r.Outside > 0 {
		w = append(w, fmt.Sprintf("%d of %d values (%.2f%%) lie outside the fitted interval [%g, %g]; an encrypted polynomial cannot clip them, so their error against ReLU grows quadratically",
			r.Outside, n, 100*float64(r.Outside)/float64(n), rr.act.Interval[0], rr.act.Interval[1]))
	}
	return strings.Join(w, "; ")
}

// minTrustedBits is the precision below which a report warns that the
// encrypted result is noise: a degree-2 activation at the default scale
// gives 20+ bits, while a power-basis degree-30 polynomial or inputs of
// 10^6 overflowed to below zero bits when tried, and were reported
// without comment before.
const minTrustedBits = 10

// cpuRatio returns a/b for CPU times, or aw/bw for the wall-clock twins
// when a CPU time is below the clock's resolution: a ratio with a zero
// would read +Inf or NaN, which is wrong and does not even encode as
// JSON. It returns 0 when neither can be formed.
func cpuRatio(a, b, aw, bw float64) float64 {
	switch {
	case a > 0 && b > 0:
		return a / b
	case bw > 0:
		return aw / bw
	}
	return 0
}

// timed runs f and returns its wall-clock and thread CPU seconds.
func timed(f func(*rlwe.Ciphertext) (*rlwe.Ciphertext, error), ct *rlwe.Ciphertext) (*rlwe.Ciphertext, [2]float64, error) {
	t := time.Now()
	tt := cputime.StartThread()
	out, err := f(ct)
	cpu := tt.Stop()
	return out, [2]float64{time.Since(t).Seconds(), cpu.Seconds()}, err
}

// parallelThroughput runs the activation on reps·workers copies of ct with
// one evaluator per goroutine and returns slots per second. Lattigo 6.2's
// evaluators draw buffers from sync pools, but its encoder inside the
// evaluator is cheapest to keep per goroutine anyway.
func parallelThroughput(keys *EvaluationKeys, act *activation.Activation, ct *rlwe.Ciphertext, workers, reps, slots int) (float64, error) {
	jobs := workers * reps
	var wg sync.WaitGroup
	errs := make([]error, workers)
	t := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int, ev *ckks.Evaluator) {
			defer wg.Done()
			for j := w; j < jobs; j += workers {
				if _, err := EvalActivation(ev, ct, act); err != nil {
					errs[w] = err
					return
				}
			}
		}(w, keys.NewEvaluator())
	}
	wg.Wait()
	el := time.Since(t).Seconds()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return float64(jobs*slots) / el, nil
}

func median2(v [][2]float64, k int) float64 {
	s := make([]float64, len(v))
	for i := range v {
		s[i] = v[i][k]
	}
	return median(s)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
