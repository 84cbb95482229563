package he

import (
	"github.com/krelu/krelu/internal/cputime"

	"fmt"
	"math"
	"math/rand"
	"runtime"
	"sort"
	"time"
)

// BootstrapReport is what `krelu he --bootstrap` prints: one bootstrap of
// a ciphertext of uniform random values in [−1, 1] under a bootstrapping
// preset.
type BootstrapReport struct {
	Preset string `json:"preset"`
	LogN   int    `json:"logn"`
	Slots  int    `json:"slots"`
	// LogQP of the residual chain and of the bootstrapping circuit's chain,
	// against the 128-bit bound of LogN.
	ResidualLogQP float64 `json:"residual_logqp"`
	CircuitLogQP  float64 `json:"circuit_logqp"`
	MaxLogQP      float64 `json:"max_logqp"`
	LogScale      int     `json:"log_scale"`
	// InputLevel is the level the ciphertext had when bootstrapped.
	InputLevel           int `json:"input_level"`
	LevelsAfterBootstrap int `json:"levels_after_bootstrap"`
	CircuitDepth         int `json:"circuit_depth"`
	// Precision of the bootstrapped values against the encrypted ones,
	// −log2 of the absolute error (mean and worst slot).
	BootstrapPrecisionBits    float64 `json:"bootstrap_precision_bits"`
	MinBootstrapPrecisionBits float64 `json:"min_bootstrap_precision_bits"`
	MaxAbsErr                 float64 `json:"max_abs_err"`
	// Timings: median (and range) of Reps bootstraps, wall clock.
	Reps                int     `json:"reps"`
	BootstrapSeconds    float64 `json:"bootstrap_seconds"`
	BootstrapSecondsMin float64 `json:"bootstrap_seconds_min"`
	BootstrapSecondsMax float64 `json:"bootstrap_seconds_max"`
	// BootstrapCPUSeconds is the median CPU time of the bootstrapping
	// thread (steadier than wall time on a shared machine).
	BootstrapCPUSeconds float64 `json:"bootstrap_cpu_seconds"`
	KeygenSeconds       float64 `json:"keygen_seconds"`
	EvaluatorSeconds    float64 `json:"evaluator_setup_seconds"`
	// Sizes: the serialized bootstrapping keys and the Go heap in use after
	// key generation and after the evaluator's precomputation.
	KeyBytes         int64  `json:"key_bytes"`
	GaloisKeys       int    `json:"galois_keys"`
	HeapAfterKeysMB  uint64 `json:"heap_after_keys_mb"`
	HeapAfterSetupMB uint64 `json:"heap_after_setup_mb"`
	CiphertextBytes  int    `json:"ciphertext_bytes"`
}

// BootstrapOptions configure [RunBootstrapReport].
type BootstrapOptions struct {
	// Preset names a bootstrapping preset ("" = the first).
	Preset string
	// Reps is the number of timed bootstraps (≥ 1).
	Reps int
	// Seed seeds the random values.
	Seed int64
}

// RunBootstrapReport generates keys for a bootstrapping preset, encrypts
// uniform random values in [−1, 1] at level 0 and bootstraps them Reps
// times, reporting precision, time, key size and memory.
func RunBootstrapReport(opt BootstrapOptions) (*BootstrapReport, error) {
	if opt.Reps < 1 || opt.Reps > 100 {
		return nil, fmt.Errorf("he: bootstrap repetitions %d outside [1, 100]", opt.Reps)
	}
	pr := BootstrapPresets()[0]
	if opt.Preset != "" {
		var err error
		if pr, err = BootstrapPresetByName(opt.Preset); err != nil {
			return nil, err
		}
	}
	bp, err := NewBootstrapParams(pr)
	if err != nil {
		return nil, err
	}
	res := bp.Residual()
	bound, _ := MaxLogQP(res.LogN())
	r := &BootstrapReport{Preset: pr.Name, LogN: res.LogN(), Slots: res.MaxSlots(), ResidualLogQP: res.LogQP(),
		CircuitLogQP: bp.Circuit().LogQP(), MaxLogQP: bound, LogScale: res.LogDefaultScale(),
		LevelsAfterBootstrap: bp.LevelsAfter(), CircuitDepth: bp.CircuitDepth(), Reps: opt.Reps}

	t0 := time.Now()
	owner, err := NewKeyOwner(res)
	if err != nil {
		return nil, err
	}
	bk, err := owner.BootstrapKeys(bp)
	if err != nil {
		return nil, err
	}
	r.KeygenSeconds = time.Since(t0).Seconds()
	r.KeyBytes, r.GaloisKeys = bk.Size(), bk.NumGaloisKeys()
	r.HeapAfterKeysMB = heapMB()

	t0 = time.Now()
	btp, err := NewBootstrapper(bp, bk)
	if err != nil {
		return nil, err
	}
	r.EvaluatorSeconds = time.Since(t0).Seconds()
	r.HeapAfterSetupMB = heapMB()

	rng := rand.New(rand.NewSource(opt.Seed))
	want := make([]float64, res.MaxSlots())
	for i := range want {
		want[i] = 2*rng.Float64() - 1
	}
	ct, err := owner.Encrypt(want, 0)
	if err != nil {
		return nil, err
	}
	r.CiphertextBytes = ct.BinarySize()
	times := make([]float64, 0, opt.Reps)
	cpu := make([]float64, 0, opt.Reps)
	for i := 0; i < opt.Reps; i++ {
		t := time.Now()
		tm := cputime.StartThread()
		out, err := btp.Bootstrap(ct)
		cpu = append(cpu, tm.Stop().Seconds())
		if err != nil {
			return nil, err
		}
		times = append(times, time.Since(t).Seconds())
		if i > 0 {
			continue
		}
		have, err := owner.Decrypt(out)
		if err != nil {
			return nil, err
		}
		st := PrecisionStats(res, want, have)
		r.BootstrapPrecisionBits, r.MinBootstrapPrecisionBits = st.AVGLog2Prec.Real, st.MINLog2Prec.Real
		for j := range want {
			r.MaxAbsErr = math.Max(r.MaxAbsErr, math.Abs(have[j]-want[j]))
		}
		r.InputLevel = ct.Level()
		if out.Level() != bp.LevelsAfter() {
			return nil, fmt.Errorf("he: bootstrap returned level %d, want %d", out.Level(), bp.LevelsAfter())
		}
	}
	sort.Float64s(times)
	sort.Float64s(cpu)
	r.BootstrapCPUSeconds = cpu[len(cpu)/2]
	r.BootstrapSeconds = times[len(times)/2]
	r.BootstrapSecondsMin, r.BootstrapSecondsMax = times[0], times[len(times)-1]
	return r, nil
}

func heapMB() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc >> 20
}
