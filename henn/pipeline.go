package henn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/internal/cputime"
	"github.com/krelu/krelu/levelplan"
	"github.com/krelu/krelu/onnx"
	"github.com/krelu/krelu/rewrite"
)

// This file holds the bring-your-own-model pipeline behind `krelu compile`,
// `krelu inspect` and `krelu infer --model X.onnx|X.henn`: read, calibrate
// and rewrite (package rewrite), compile (this package), run.

// CompileConfig configures [CompileONNX].
type CompileConfig struct {
	Model        string // .onnx file
	Calib        string // calibration source (rewrite.SourceHelp)
	CalibLimit   int    // calibration inputs (0: all)
	Holdout      string // held-out source ("" for none)
	HoldoutLimit int    // held-out inputs (0: all)
	Activation   string // kernel, direct, minimax, decision, auto or a .json file
	Degree       int
	Interval     string // fit interval rule (approx.ChooseInterval)
	Output       string // .henn path ("" to write nothing)
	LogN         int
}

// HoldoutReport compares the rewritten model with the original on
// held-out inputs (plaintext).
type HoldoutReport struct {
	Inputs           int      `json:"inputs"`
	Accuracy         *float64 `json:"accuracy,omitempty"`
	OriginalAccuracy *float64 `json:"original_accuracy,omitempty"`
	Agreement        float64  `json:"agreement_with_original"`
}

// CompileReport is what [CompileONNX] did.
type CompileReport struct {
	Model   string          `json:"model"`
	Output  string          `json:"output,omitempty"`
	Rewrite *rewrite.Report `json:"calibration"`
	Holdout *HoldoutReport  `json:"holdout,omitempty"`
	Plan    *PlanReport     `json:"encrypted_plan,omitempty"`
	// EncryptedError says why the model cannot run encrypted (e.g. an
	// activation of degree > 2); the .henn file is still written.
	EncryptedError string `json:"encrypted_error,omitempty"`
}

// PlanReport summarizes a compiled model for reports.
type PlanReport struct {
	Preset        string   `json:"preset"`
	LogN          int      `json:"log_n"`
	Levels        int      `json:"levels"`
	Block         int      `json:"slots_per_input"`
	PerCiphertext int      `json:"inputs_per_ciphertext"`
	RotationKeys  int      `json:"rotation_keys"`
	Steps         []PlanOp `json:"steps"`
	// BootstrapBounds are the largest calibrated magnitudes of the values
	// bootstrapped (before their division into the bootstrap's range), by
	// step index.
	BootstrapBounds map[int]float64 `json:"bootstrap_value_bounds,omitempty"`
	// For a model that bootstraps: the level inputs are encrypted at, the
	// levels after each bootstrap, the bootstraps one ciphertext goes
	// through, and the bootstrapping keys' size predicted from the
	// parameters (he.BootstrapParams.KeyBytesEstimate).
	InputLevel        int              `json:"input_level"`
	LevelsAfterBoot   int              `json:"levels_after_bootstrap,omitempty"`
	Bootstraps        []BootstrapPoint `json:"bootstraps,omitempty"`
	BootstrapKeyBytes int64            `json:"bootstrap_key_bytes_estimate,omitempty"`
}

func planReport(m *Model) *PlanReport {
	l := m.Layout()
	r := &PlanReport{Preset: m.Preset(), LogN: l.Params.LogN(), Levels: m.Depth(), Block: l.Block,
		PerCiphertext: l.PerCiphertext(), RotationKeys: len(m.Rotations()), Steps: m.Plan(), InputLevel: l.Level}
	if m.NeedsBootstrapKeys() {
		r.Bootstraps = m.Bootstraps()
		r.LevelsAfterBoot = m.gp.boot.target.LevelsAfter()
		r.BootstrapBounds = m.gp.boot.bounds
		if bp := m.BootstrapParams(); bp != nil {
			r.BootstrapKeyBytes = bp.KeyBytesEstimate()
		}
	}
	return r
}

// bootstrapOption is Options.Bootstrap for a --bootstrap switch: the
// bootstrapping preset of LogN (0: LogN 15, whose keys take 4 GB instead
// of LogN 16's 9 GB).
func bootstrapOption(on bool, logN int) (*he.BootstrapParams, error) {
	if !on {
		return nil, nil
	}
	if logN == 0 {
		logN = 15
	}
	p, err := he.BootstrapPresetForLogN(logN)
	if err != nil {
		return nil, err
	}
	return he.NewBootstrapParams(p)
}

// ParseActivation checks an --activation value: a method name or a
// readable krelu.activation/v1 file.
func ParseActivation(spec string) (method string, file *approx.Activation, err error) {
	switch spec {
	case rewrite.Kernel, rewrite.Direct, rewrite.Minimax, rewrite.Decision, rewrite.Auto:
		return spec, nil, nil
	}
	if strings.HasSuffix(spec, ".json") {
		a, err := approx.ReadActivationFile(spec)
		if err != nil {
			return "", nil, err
		}
		return "file", a, nil
	}
	return "", nil, fmt.Errorf("unknown activation %q (want %s)", spec, rewrite.MethodNames)
}

// CompileONNX reads an ONNX model, calibrates and rewrites it, measures it
// on the held-out inputs, plans its encrypted evaluation and writes the
// .henn file.
func CompileONNX(cfg CompileConfig) (*CompileReport, error) {
	method, file, err := ParseActivation(cfg.Activation)
	if err != nil {
		return nil, err
	}
	g, err := onnx.ReadFile(cfg.Model, onnx.Options{})
	if err != nil {
		return nil, err
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("%s: %d inputs; krelu compiles models with one input", cfg.Model, len(g.Inputs))
	}
	shape := g.Inputs[0].Shape
	calib, _, err := rewrite.LoadInputs(cfg.Calib, shape, cfg.CalibLimit)
	if err != nil {
		return nil, fmt.Errorf("calibration data: %w", err)
	}
	var hold []*graph.Tensor
	var labels []int
	if cfg.Holdout != "" {
		if hold, labels, err = rewrite.LoadInputs(cfg.Holdout, shape, cfg.HoldoutLimit); err != nil {
			return nil, fmt.Errorf("held-out data: %w", err)
		}
	}
	rg, rep, err := rewrite.Rewrite(g, calib, rewrite.Options{Method: method, File: file, Degree: cfg.Degree, Interval: cfg.Interval})
	if err != nil {
		return nil, err
	}
	out := &CompileReport{Model: cfg.Model, Rewrite: rep}
	if hold != nil {
		if out.Holdout, err = holdout(g, rg, hold, labels); err != nil {
			return nil, err
		}
	}
	if m, err := CompileGraph(rg, Options{LogN: cfg.LogN}); err != nil {
		out.EncryptedError = err.Error()
	} else {
		out.Plan = planReport(m)
	}
	if cfg.Output != "" {
		raw, err := json.Marshal(rep)
		if err != nil {
			return nil, err
		}
		if err := WriteModelFile(cfg.Output, &ModelFile{Source: filepath.Base(cfg.Model), Graph: rg, Report: raw}); err != nil {
			return nil, err
		}
		out.Output = cfg.Output
	}
	return out, nil
}

func holdout(orig, rw *graph.Graph, in []*graph.Tensor, labels []int) (*HoldoutReport, error) {
	a, err := rewrite.Predict(orig, in)
	if err != nil {
		return nil, fmt.Errorf("held-out data, original model: %w", err)
	}
	b, err := rewrite.Predict(rw, in)
	if err != nil {
		return nil, fmt.Errorf("held-out data, rewritten model: %w", err)
	}
	h := &HoldoutReport{Inputs: len(in), Agreement: rewrite.Agreement(a, b)}
	if labels != nil {
		acc, oacc := rewrite.Agreement(b, labels), rewrite.Agreement(a, labels)
		h.Accuracy, h.OriginalAccuracy = &acc, &oacc
	}
	return h, nil
}

// Inspection describes a model file for `krelu inspect`.
type Inspection struct {
	Model       string          `json:"model"`
	Format      string          `json:"format"` // onnx or henn
	Input       graph.ValueInfo `json:"input"`
	Output      graph.ValueInfo `json:"output"`
	Ops         map[string]int  `json:"ops"`
	Parameters  int             `json:"parameters"`
	Activations []string        `json:"activations_to_replace,omitempty"`
	Polys       []string        `json:"polynomial_activations,omitempty"`
	// Plan is the encrypted plan: for an ONNX model with every activation
	// taken as a degree-2 polynomial (what krelu compile makes).
	Plan           *PlanReport     `json:"encrypted_plan,omitempty"`
	EncryptedError string          `json:"encrypted_error,omitempty"`
	Report         json.RawMessage `json:"calibration,omitempty"`
	// LevelPlan places bootstraps (package levelplan) under the LogN 16
	// bootstrapping preset, for models deeper than the chain.
	LevelPlan      *levelplan.Result `json:"level_plan,omitempty"`
	LevelPlanError string            `json:"level_plan_error,omitempty"`
}

// Inspect reads an .onnx or .henn model and describes it.
func Inspect(path string, logN int, bootstrap bool) (*Inspection, error) {
	bt, err := bootstrapOption(bootstrap, logN)
	if err != nil {
		return nil, err
	}
	var g *graph.Graph
	ins := &Inspection{Model: path, Ops: map[string]int{}}
	if strings.HasSuffix(path, ".henn") {
		mf, err := ReadModelFile(path)
		if err != nil {
			return nil, err
		}
		g, ins.Format, ins.Report = mf.Graph, "henn", mf.Report
	} else {
		var err error
		if g, err = onnx.ReadFile(path, onnx.Options{}); err != nil {
			return nil, err
		}
		ins.Format = "onnx"
	}
	if len(g.Inputs) > 0 {
		ins.Input = g.Inputs[0]
	}
	if len(g.Outputs) > 0 {
		ins.Output = g.Outputs[0]
	}
	for _, t := range g.Initializers {
		ins.Parameters += len(t.Data)
	}
	probe := g.Clone()
	for _, n := range probe.Nodes {
		ins.Ops[n.Op]++
		label := n.Name
		if label == "" && len(n.Outputs) > 0 {
			label = n.Outputs[0]
		}
		switch {
		case graph.ActivationOps[n.Op]:
			ins.Activations = append(ins.Activations, n.Op+" "+label)
			// Any degree-2 polynomial has the plan of the compiled model.
			n.Op = graph.OpPoly
			n.Attrs = map[string]graph.Attr{"coefficients": {Kind: graph.AttrFloats, Floats: []float64{0.1, 0.5, 0.2}}}
		case n.Op == graph.OpPoly:
			ins.Polys = append(ins.Polys, fmt.Sprintf("%s %v", label, n.AttrFloats("coefficients")))
		}
	}
	if folded, _, err := rewrite.FoldBatchNorm(probe); err == nil {
		probe = folded
	}
	if m, err := CompileGraph(probe, Options{LogN: logN, Bootstrap: bt}); err != nil {
		ins.EncryptedError = err.Error()
	} else {
		ins.Plan = planReport(m)
		if lp, err := LevelPlan(probe, m.Plan(), 16); err == nil {
			ins.LevelPlan = lp
		} else {
			ins.LevelPlanError = err.Error()
		}
	}
	return ins, nil
}

// InferConfig configures [InferFile].
type InferConfig struct {
	Model     string // .onnx or .henn
	Input     string // .npy batch or a source (rewrite.SourceHelp)
	Labels    string // .npy labels ("" : the source's, if any)
	Encrypted bool
	Offset    int // skip the first Offset inputs
	Limit     int
	LogN      int
	// Bootstrap runs under the bootstrapping preset of LogN (0: 15) with
	// the planned bootstraps executed, even when a modulus chain would
	// hold the model (a model deeper than every chain bootstraps anyway).
	Bootstrap bool
	// Calib (a source, rewrite.SourceHelp) and CalibLimit: inputs on which
	// a model that bootstraps measures the values it bootstraps (see
	// Options.Calibration). Required when the model bootstraps.
	Calib      string
	CalibLimit int
}

// InferReport is the outcome of [InferFile].
type InferReport struct {
	Model     string      `json:"model"`
	Encrypted bool        `json:"encrypted"`
	Inputs    int         `json:"inputs"`
	Outputs   [][]float64 `json:"outputs"`
	Accuracy  *float64    `json:"accuracy,omitempty"`
	// With Encrypted: the same model in plaintext (the polynomial graph).
	PlainAccuracy *float64    `json:"plaintext_accuracy,omitempty"`
	Agreement     *float64    `json:"agreement_with_plaintext,omitempty"`
	MaxAbsErr     *float64    `json:"max_abs_error_vs_plaintext,omitempty"`
	Plan          *PlanReport `json:"encrypted_plan,omitempty"`
	// Seconds: plaintext forward of all inputs, or the encrypted run's
	// single-input latency and amortized time per input.
	PlainSeconds     float64 `json:"plaintext_seconds,omitempty"`
	LatencySeconds   float64 `json:"latency_seconds_single,omitempty"`
	AmortizedSeconds float64 `json:"seconds_per_input_amortized,omitempty"`
	// CPU time of the process (all threads; the machine may be shared, so
	// CPU time is the comparable figure): key generation (client),
	// server setup (encoding weights, the bootstrapping evaluator), the
	// single-input round trip (one ciphertext: encrypt, evaluate with its
	// bootstraps, decrypt) and the other inputs' round trips per input.
	KeygenCPUSeconds    float64 `json:"keygen_cpu_seconds,omitempty"`
	SetupCPUSeconds     float64 `json:"server_setup_cpu_seconds,omitempty"`
	LatencyCPUSeconds   float64 `json:"latency_cpu_seconds_single,omitempty"`
	AmortizedCPUSeconds float64 `json:"cpu_seconds_per_input_amortized,omitempty"`
	// Key sizes (serialized bytes) and the process's peak resident set.
	EvaluationKeyBytes int64 `json:"evaluation_key_bytes,omitempty"`
	BootstrapKeyBytes  int64 `json:"bootstrap_key_bytes,omitempty"`
	PeakRSSBytes       int64 `json:"peak_rss_bytes,omitempty"`
}

// InferFile runs a model file on a batch of inputs, in plaintext or under
// CKKS encryption (a .henn model only).
func InferFile(cfg InferConfig) (*InferReport, error) {
	var g *graph.Graph
	if strings.HasSuffix(cfg.Model, ".henn") {
		mf, err := ReadModelFile(cfg.Model)
		if err != nil {
			return nil, err
		}
		g = mf.Graph
	} else {
		if cfg.Encrypted {
			return nil, fmt.Errorf("--encrypted needs an HE-ready model: run krelu compile %s --calib SOURCE -o MODEL.henn first", cfg.Model)
		}
		var err error
		if g, err = onnx.ReadFile(cfg.Model, onnx.Options{}); err != nil {
			return nil, err
		}
	}
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("%s: %d inputs; krelu runs models with one input", cfg.Model, len(g.Inputs))
	}
	limit := cfg.Limit
	if limit > 0 {
		limit += cfg.Offset
	}
	in, labels, err := rewrite.LoadInputs(cfg.Input, g.Inputs[0].Shape, limit)
	if err != nil {
		return nil, err
	}
	if cfg.Offset >= len(in) {
		return nil, fmt.Errorf("offset %d: the input holds %d inputs", cfg.Offset, len(in))
	}
	in = in[cfg.Offset:]
	if labels != nil {
		labels = labels[cfg.Offset:]
	}
	if cfg.Labels != "" {
		if labels, err = rewrite.LoadLabels(cfg.Labels); err != nil {
			return nil, err
		}
		if len(labels) < cfg.Offset+len(in) {
			return nil, fmt.Errorf("%s holds %d labels for %d inputs", cfg.Labels, len(labels), cfg.Offset+len(in))
		}
		labels = labels[cfg.Offset : cfg.Offset+len(in)]
	}
	rep := &InferReport{Model: cfg.Model, Inputs: len(in), Encrypted: cfg.Encrypted}
	t0 := time.Now()
	plain, err := rewrite.Outputs(g, in)
	if err != nil {
		return nil, err
	}
	rep.PlainSeconds = time.Since(t0).Seconds()
	pred := rewrite.Argmax(plain)
	acc := func(p []int) *float64 {
		if labels == nil {
			return nil
		}
		a := rewrite.Agreement(p, labels)
		return &a
	}
	if !cfg.Encrypted {
		rep.Outputs, rep.Accuracy = plain, acc(pred)
		return rep, nil
	}
	bt, err := bootstrapOption(cfg.Bootstrap, cfg.LogN)
	if err != nil {
		return nil, err
	}
	var calib []*graph.Tensor
	if cfg.Calib != "" {
		if calib, _, err = rewrite.LoadInputs(cfg.Calib, g.Inputs[0].Shape, cfg.CalibLimit); err != nil {
			return nil, fmt.Errorf("calibration data: %w", err)
		}
	}
	m, err := CompileGraph(g, Options{LogN: cfg.LogN, Bootstrap: bt, Calibration: calib})
	if err != nil {
		return nil, err
	}
	if m.NeedsBootstrapKeys() && calib == nil {
		return nil, fmt.Errorf("the model bootstraps (%d bootstraps per ciphertext under %s): give --calib SOURCE, inputs on which the values it bootstraps are measured and scaled into the bootstrap's precise range (%s)",
			len(m.Bootstraps()), m.Preset(), rewrite.SourceHelp)
	}
	rep.Plan = planReport(m)
	flat := make([][]float64, len(in))
	for i, x := range in {
		flat[i] = x.Data
	}
	enc, lat, per, err := runChunked(m, flat, rep)
	if err != nil {
		return nil, err
	}
	if len(enc) != len(in) {
		return nil, errors.New("henn: encrypted run returned a wrong number of outputs")
	}
	rep.Outputs = enc
	ep := rewrite.Argmax(enc)
	rep.Accuracy, rep.PlainAccuracy = acc(ep), acc(pred)
	ag := rewrite.Agreement(ep, pred)
	rep.Agreement = &ag
	var me float64
	for i := range enc {
		for j := range enc[i] {
			me = math.Max(me, math.Abs(enc[i][j]-plain[i][j]))
		}
	}
	rep.MaxAbsErr = &me
	rep.LatencySeconds, rep.AmortizedSeconds = lat.Seconds(), per.Seconds()
	return rep, nil
}

// runChunked makes one client and one server for m and runs inputs through
// them a few ciphertexts at a time (bounded memory). It returns the
// outputs, the round-trip time of the first ciphertext (one input in it)
// and the encrypt+evaluate+decrypt time per input over the rest.
func runChunked(m *Model, inputs [][]float64, rep *InferReport) ([][]float64, time.Duration, time.Duration, error) {
	defer func() {
		if b, ok := cputime.PeakRSS(); ok {
			rep.PeakRSSBytes = b
		}
	}()
	c0 := cpuTime()
	client, err := NewClient(m.Params())
	if err != nil {
		return nil, 0, 0, err
	}
	evk, err := client.EvaluationKeys(m.Rotations())
	if err != nil {
		return nil, 0, 0, err
	}
	rep.EvaluationKeyBytes = evk.Size()
	var server *Server
	if m.NeedsBootstrapKeys() {
		bk, err := client.BootstrapKeys(m.BootstrapParams())
		if err != nil {
			return nil, 0, 0, err
		}
		rep.BootstrapKeyBytes = bk.Size()
		c1 := cpuTime()
		rep.KeygenCPUSeconds = (c1 - c0).Seconds()
		if server, err = NewBootstrapServer(m, evk, bk); err != nil {
			return nil, 0, 0, err
		}
		rep.SetupCPUSeconds = (cpuTime() - c1).Seconds()
	} else {
		c1 := cpuTime()
		rep.KeygenCPUSeconds = (c1 - c0).Seconds()
		if server, err = NewServer(m, evk); err != nil {
			return nil, 0, 0, err
		}
		rep.SetupCPUSeconds = (cpuTime() - c1).Seconds()
	}
	l := m.Layout()
	roundTrip := func(batch [][]float64) ([][]float64, error) {
		ct, err := client.EncryptBatch(l, batch)
		if err != nil {
			return nil, err
		}
		out, err := server.Evaluate(ct)
		if err != nil {
			return nil, err
		}
		return client.DecryptLogits(l, out)
	}
	t0, c0 := time.Now(), cpuTime()
	outs, err := roundTrip(inputs[:1])
	if err != nil {
		return nil, 0, 0, err
	}
	lat := time.Since(t0)
	rep.LatencyCPUSeconds = (cpuTime() - c0).Seconds()
	rest := inputs[1:]
	if len(rest) == 0 {
		rep.AmortizedCPUSeconds = rep.LatencyCPUSeconds
		return outs, lat, lat, nil
	}
	chunk := l.PerCiphertext() * 4
	t0, c0 = time.Now(), cpuTime()
	for s := 0; s < len(rest); s += chunk {
		o, err := roundTrip(rest[s:min(s+chunk, len(rest))])
		if err != nil {
			return nil, 0, 0, err
		}
		outs = append(outs, o...)
	}
	rep.AmortizedCPUSeconds = (cpuTime() - c0).Seconds() / float64(len(rest))
	return outs, lat, time.Since(t0) / time.Duration(len(rest)), nil
}
