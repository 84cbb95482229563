package rewrite

import (
	"errors"
	"fmt"
	"github.com/krelu/krelu/internal/logits"
	"math"
	"sort"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/graph"
)

// Methods accepted by Options.Method besides a path to a
// krelu.activation/v1 JSON file.
const (
	Kernel  = "kernel"  // the paper's kernel-smoothed fit (default)
	Direct  = "direct"  // least squares to ReLU under the calibration values
	Minimax = "minimax" // minimax quadratic on [−a, a], a = max |pre-activation|
	Auto    = "auto"    // per layer, the method with the best agreement
	// Decision is the decision-aware quadratic of Li, Wu & Miao (arXiv
	// 2605.22237): the quadratic that keeps the original model's
	// decisions on the calibration inputs with the largest margin.
	Decision = "decision"
)

// MethodNames lists the fit methods for flag help and errors.
const MethodNames = "kernel, direct, minimax, decision, auto or a krelu.activation/v1 JSON file"

// Options configure Rewrite.
type Options struct {
	// Method is Kernel (default), Direct, Minimax, Decision, Auto, or
	// "file".
	Method string
	// File is a fitted activation used for every layer (Method "file").
	File *approx.Activation
	// Degree of the fitted polynomials (default 2; the encrypted evaluator
	// takes 2).
	Degree int
	// MaxValues bounds the pre-activation values one fit uses (a strided
	// subsample; default 20000).
	MaxValues int
	// Interval is the fit interval rule of the kernel and direct fits
	// (approx.ChooseInterval: "auto" (default), "maxabs", "range", "qP").
	Interval string
}

// Layer reports one replaced activation.
type Layer struct {
	Node         string     `json:"node"`
	Op           string     `json:"op"`
	Method       string     `json:"method"`
	Coefficients []float64  `json:"coefficients"`
	Interval     [2]float64 `json:"interval"`
	// OutsideFrac is the fraction of calibration pre-activations outside
	// Interval, RMSE and MaxErr the polynomial's error against ReLU on the
	// values inside it (the layer's fidelity).
	OutsideFrac float64 `json:"outside_frac"`
	RMSE        float64 `json:"rmse_vs_relu"`
	MaxErr      float64 `json:"max_err_vs_relu"`
	Levels      int     `json:"levels"`
	Values      int     `json:"calibration_values"`
	// Solver (Decision only) is "newton" when only affine ops follow the
	// activation (the program is then solved exactly) and "nelder-mead"
	// otherwise.
	Solver string `json:"solver,omitempty"`
	// Agreement (Auto only) is the calibration agreement with the
	// original model of each candidate method at this layer.
	Agreement map[string]float64 `json:"candidate_agreement,omitempty"`
}

// Report is the outcome of Rewrite.
type Report struct {
	Method       string  `json:"method"`
	Degree       int     `json:"degree"`
	Calibration  int     `json:"calibration_inputs"`
	FoldedBN     int     `json:"batchnorms_folded"`
	Layers       []Layer `json:"layers"`
	KernelChosen int     `json:"kernel_chosen"`
	// CalibAgreement is the argmax agreement of the rewritten model with
	// the original on the calibration inputs.
	CalibAgreement float64 `json:"calibration_agreement"`
}

// Rewrite returns a copy of g with BatchNormalization folded into the
// preceding convolutions and every activation replaced by a polynomial
// (graph.OpPoly) fitted to the pre-activation values it sees on calib
// (inputs in the model's input shape). Layers are fitted first to last,
// each on the values it sees with the earlier ones already replaced, as
// the paper fits each layer on its own input distribution.
//
// With Method Decision each layer's quadratic is fitted by
// approx.FitDecisionAware to keep the original graph's decisions on calib
// with the largest margin, the forward pass through the rest of the graph
// (later activations still exact) run by the graph runtime.
//
// With Method Auto each layer tries kernel, direct, minimax and decision
// in turn (earlier layers fixed, later ones still exact) and keeps the one
// whose model agrees best with the original's decisions on calib (ties
// favour the earlier in that list, kernel first): a greedy per-layer
// search, not a joint one.
func Rewrite(g *graph.Graph, calib []*graph.Tensor, opt Options) (*graph.Graph, *Report, error) {
	if opt.Degree == 0 {
		opt.Degree = 2
	}
	if opt.Degree < 1 || opt.Degree > approx.MaxDegree {
		return nil, nil, fmt.Errorf("rewrite: degree %d outside [1, %d]", opt.Degree, approx.MaxDegree)
	}
	if opt.MaxValues <= 0 {
		opt.MaxValues = 20000
	}
	if opt.Method == "" {
		opt.Method = Kernel
	}
	switch opt.Method {
	case Kernel, Direct, Minimax, Decision, Auto:
	case "file":
		if opt.File == nil {
			return nil, nil, errors.New("rewrite: method file without an activation")
		}
	default:
		return nil, nil, fmt.Errorf("rewrite: unknown method %q (want %s)", opt.Method, MethodNames)
	}
	if len(calib) == 0 {
		return nil, nil, errors.New("rewrite: no calibration inputs")
	}
	if err := g.Validate(); err != nil {
		return nil, nil, err
	}
	ref, err := Predict(g, calib)
	if err != nil {
		return nil, nil, fmt.Errorf("rewrite: running the original model on the calibration inputs: %w", err)
	}
	out, folded, err := FoldBatchNorm(g)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Method: opt.Method, Degree: opt.Degree, Calibration: len(calib), FoldedBN: folded}
	for _, n := range out.Nodes {
		if !graph.ActivationOps[n.Op] {
			continue
		}
		if n.Op != "Relu" {
			return nil, nil, fmt.Errorf("rewrite: %s node %q: only ReLU activations are fitted", n.Op, n.Name)
		}
		pre, err := preActivations(out, n, calib, opt.MaxValues)
		if err != nil {
			return nil, nil, err
		}
		methods := []string{opt.Method}
		if opt.Method == Auto {
			methods = []string{Kernel, Direct, Minimax, Decision}
		}
		var best *Layer
		bestAgree := -1.0
		cand := map[string]float64{}
		for _, m := range methods {
			var l *Layer
			if m == Decision {
				l, err = fitDecision(out, n, calib, ref, pre, opt)
			} else {
				l, err = fit(pre, m, opt)
			}
			if err != nil {
				return nil, nil, fmt.Errorf("rewrite: %s node %q: %w", n.Op, n.Name, err)
			}
			l.Node, l.Op = n.Name, n.Op
			if opt.Method != Auto {
				best = l
				break
			}
			save := *n
			setPoly(n, l)
			pred, err := Predict(out, calib)
			*n = save
			if err != nil {
				return nil, nil, err
			}
			a := Agreement(pred, ref)
			cand[m] = a
			if a > bestAgree {
				best, bestAgree = l, a
			}
		}
		if opt.Method == Auto {
			best.Agreement = cand
		}
		setPoly(n, best)
		if best.Method == Kernel {
			rep.KernelChosen++
		}
		rep.Layers = append(rep.Layers, *best)
	}
	pred, err := Predict(out, calib)
	if err != nil {
		return nil, nil, err
	}
	rep.CalibAgreement = Agreement(pred, ref)
	return out, rep, nil
}

func setPoly(n *graph.Node, l *Layer) {
	n.Op = graph.OpPoly
	n.Attrs = map[string]graph.Attr{
		"coefficients": {Kind: graph.AttrFloats, Floats: append([]float64(nil), l.Coefficients...)},
		"interval":     {Kind: graph.AttrFloats, Floats: []float64{l.Interval[0], l.Interval[1]}},
		"method":       {Kind: graph.AttrString, String: l.Method},
	}
}

// preActivations runs g on calib and returns (a strided subsample of at
// most max of) the values entering node n.
func preActivations(g *graph.Graph, n *graph.Node, calib []*graph.Tensor, maxVals int) ([]float64, error) {
	name := n.Inputs[0]
	var all []float64
	for i, x := range calib {
		res, err := g.RunWith(map[string]*graph.Tensor{g.Inputs[0].Name: x}, graph.RunOptions{Keep: []string{name}})
		if err != nil {
			return nil, fmt.Errorf("rewrite: calibration input %d: %w", i, err)
		}
		all = append(all, res[name].Data...)
	}
	if len(all) > maxVals {
		step := float64(len(all)) / float64(maxVals)
		sub := make([]float64, maxVals)
		for i := range sub {
			sub[i] = all[int(float64(i)*step)]
		}
		all = sub
	}
	return all, nil
}

func relu(x float64) float64 { return math.Max(x, 0) }

// fit fits one layer by method m on its pre-activations u.
func fit(u []float64, m string, opt Options) (*Layer, error) {
	s, err := approx.NewSample("pre-activations", u)
	if err != nil {
		return nil, err
	}
	l := &Layer{Method: m, Values: len(u)}
	var p approx.Poly
	switch m {
	case Kernel, Direct:
		fo := approx.FitOptions{Target: "relu", Kernel: "gaussian", AutoBandwidth: true, Degree: opt.Degree, Calibration: s, Interval: opt.Interval}
		if m == Direct {
			fo.Kernel, fo.AutoBandwidth = "none", false
		}
		a, err := approx.FitActivation(fo)
		if err != nil {
			return nil, err
		}
		p, l.Interval = a.Poly(), a.Interval
	case Minimax:
		if opt.Degree != 2 {
			return nil, fmt.Errorf("the minimax baseline is the quadratic a/16 + x/2 + x²/(2a); degree %d is not offered", opt.Degree)
		}
		a := 0.0
		for _, v := range u {
			a = math.Max(a, math.Abs(v))
		}
		if a == 0 {
			return nil, errors.New("all pre-activations are zero")
		}
		p, l.Interval = approx.MinimaxReLU2(a), [2]float64{-a, a}
	case "file":
		p, l.Interval = opt.File.Poly(), opt.File.Interval
		l.Method = "file"
	}
	measure(l, p, u)
	return l, nil
}

// measure sets l's coefficients, levels and its error against ReLU on the
// values u inside l.Interval.
func measure(l *Layer, p approx.Poly, u []float64) {
	l.Coefficients = append([]float64(nil), p...)
	l.Levels = approx.Depth(p.Degree())
	l.MaxErr, l.RMSE = 0, 0
	var se float64
	in := 0
	for _, v := range u {
		if v < l.Interval[0] || v > l.Interval[1] {
			continue
		}
		in++
		e := math.Abs(p.Eval(v) - relu(v))
		se += e * e
		l.MaxErr = math.Max(l.MaxErr, e)
	}
	l.OutsideFrac = 1 - float64(in)/float64(len(u))
	if in > 0 {
		l.RMSE = math.Sqrt(se / float64(in))
	}
}

// FoldBatchNorm returns a copy of g in which every BatchNormalization whose
// input is a Conv's output read by nothing else is folded into that Conv's
// weights and bias, and the number folded. Other BatchNormalizations stay
// (the encrypted compiler folds them as per-channel affine maps).
func FoldBatchNorm(g *graph.Graph) (*graph.Graph, int, error) {
	out := g.Clone()
	folded := 0
	var keep []*graph.Node
	drop := map[*graph.Node]bool{}
	for _, bn := range out.Nodes {
		if bn.Op != "BatchNormalization" || len(bn.Inputs) < 5 {
			continue
		}
		conv := out.Producer(bn.Inputs[0])
		if conv == nil || conv.Op != "Conv" || len(out.Consumers(bn.Inputs[0])) != 1 || len(conv.Inputs) < 2 {
			continue
		}
		w := out.Initializers[conv.Inputs[1]]
		var t [4]*graph.Tensor
		ok := w != nil && len(w.Shape) == 4
		for i := range t {
			t[i] = out.Initializers[bn.Inputs[i+1]]
			ok = ok && t[i] != nil && len(t[i].Data) == w.Shape[0]
		}
		if !ok {
			continue
		}
		eps := bn.AttrFloat("epsilon", 1e-5)
		cout := w.Shape[0]
		per := len(w.Data) / cout
		nw := w.Clone()
		nb := make([]float64, cout)
		var b *graph.Tensor
		if len(conv.Inputs) > 2 && conv.Inputs[2] != "" {
			b = out.Initializers[conv.Inputs[2]]
		}
		for o := 0; o < cout; o++ {
			a := t[0].Data[o] / math.Sqrt(t[3].Data[o]+eps)
			for k := 0; k < per; k++ {
				nw.Data[o*per+k] *= a
			}
			b0 := 0.0
			if b != nil {
				b0 = b.Data[o]
			}
			nb[o] = a*(b0-t[2].Data[o]) + t[1].Data[o]
		}
		wn, bn2 := conv.Inputs[1]+".bnfolded", bn.Outputs[0]+".bias"
		out.Initializers[wn] = nw
		out.Initializers[bn2] = &graph.Tensor{Shape: []int{cout}, Data: nb}
		conv.Inputs = []string{conv.Inputs[0], wn, bn2}
		conv.Outputs = []string{bn.Outputs[0]}
		drop[bn] = true
		folded++
	}
	for _, n := range out.Nodes {
		if !drop[n] {
			keep = append(keep, n)
		}
	}
	out.Nodes = keep
	if err := out.Validate(); err != nil {
		return nil, 0, fmt.Errorf("rewrite: folding BatchNormalization: %w", err)
	}
	return out, folded, nil
}

// Outputs runs g on every input and returns the flattened outputs.
func Outputs(g *graph.Graph, inputs []*graph.Tensor) ([][]float64, error) {
	if len(g.Inputs) != 1 || len(g.Outputs) != 1 {
		return nil, fmt.Errorf("rewrite: models with one input and one output only (this one has %d and %d)", len(g.Inputs), len(g.Outputs))
	}
	out := make([][]float64, len(inputs))
	for i, x := range inputs {
		res, err := g.Run(map[string]*graph.Tensor{g.Inputs[0].Name: x})
		if err != nil {
			return nil, fmt.Errorf("input %d: %w", i, err)
		}
		out[i] = res[g.Outputs[0].Name].Data
	}
	return out, nil
}

// Predict returns the argmax of g's output for every input.
func Predict(g *graph.Graph, inputs []*graph.Tensor) ([]int, error) {
	o, err := Outputs(g, inputs)
	if err != nil {
		return nil, err
	}
	return Argmax(o), nil
}

// Argmax returns the index of the largest value of each row (the first on
// ties).
func Argmax(rows [][]float64) []int {
	out := make([]int, len(rows))
	for i, r := range rows {
		out[i] = logits.Argmax(r)
	}
	return out
}

// Agreement is the fraction of equal entries of a and b.
func Agreement(a, b []int) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return 0
	}
	k := 0
	for i := range a {
		if a[i] == b[i] {
			k++
		}
	}
	return float64(k) / float64(len(a))
}

// Methods returns the method names Rewrite accepts (without "file").
func Methods() []string {
	m := []string{Kernel, Direct, Minimax, Decision, Auto}
	sort.Strings(m)
	return m
}
