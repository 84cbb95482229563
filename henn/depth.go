package henn

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/levelplan"
	"github.com/krelu/krelu/onnx"
)

// ActivationVariant is one row of the depth table: an activation and the
// levels and non-scalar multiplications one evaluation costs.
type ActivationVariant struct {
	Name string `json:"name"`
	// Degrees are the polynomial degrees (one for a plain polynomial, the
	// composed sign polynomials for the composite ReLU).
	Degrees []int `json:"degrees"`
	// Levels consumed by one activation.
	Levels int `json:"levels"`
	// Mults is the number of ciphertext–ciphertext multiplications.
	Mults int `json:"ct_mults"`
}

// polyDepth is the depth of a degree-d polynomial in Lattigo's
// baby-step/giant-step evaluator, ⌈log2(d+1)⌉; degree 2 costs 1 with
// krelu's scale-folded quadratic (he.EvalQuadratic).
func polyDepth(d int) int {
	if d <= 2 {
		return 1
	}
	return int(math.Ceil(math.Log2(float64(d + 1))))
}

// polyMults estimates the non-scalar multiplications of a degree-d
// polynomial by baby-step/giant-step (Paterson–Stockmeyer): about
// 2^⌈log2(d+1)/2⌉ powers plus the giant steps.
func polyMults(d int) int {
	if d <= 2 {
		return 1
	}
	l := int(math.Ceil(math.Log2(float64(d + 1))))
	baby := 1 << ((l + 1) / 2)
	return baby - 1 + (d+1)/baby
}

// DepthVariants are the rows of issue 12's depth table: the kernel and
// direct quadratics, minimax degree 4 and 7, and the composite minimax
// ReLU x·(1+sign(x))/2 at Orion's degrees [15, 15, 27] (one more level
// and multiplication for the product with x).
func DepthVariants() []ActivationVariant {
	v := []ActivationVariant{
		{Name: "kernel2", Degrees: []int{2}}, {Name: "ls2", Degrees: []int{2}},
		{Name: "minimax4", Degrees: []int{4}}, {Name: "minimax7", Degrees: []int{7}},
		{Name: "composite[15,15,27]", Degrees: []int{15, 15, 27}},
	}
	for i := range v {
		for _, d := range v[i].Degrees {
			v[i].Levels += polyDepth(d)
			v[i].Mults += polyMults(d)
		}
		if len(v[i].Degrees) > 1 {
			v[i].Levels++
			v[i].Mults++
		}
	}
	return v
}

// NetworkOps lowers a model graph (act.Name == "": every activation keeps
// its own degree, a Relu counting as the degree-2 quadratic it becomes) to the planner's operations: Conv, Gemm
// and MatMul consume one level, average pooling none (krelu folds its
// 1/k² into the next layer and sums by rotations), Add joins residual
// branches, activations (krelu.Poly, Relu) consume act.Levels, and layout
// nodes (Flatten, Reshape, zero Pad, Identity) are skipped. The costs of
// each operation per level come from costs and, where the compiled plan
// names the node, its rotation and product counts.
func NetworkOps(g *graph.Graph, act ActivationVariant, plan []PlanOp, costs *he.OpCosts) ([]levelplan.Op, func(op, level int) float64, error) {
	if len(g.Inputs) != 1 {
		return nil, nil, fmt.Errorf("henn: depth table needs one input, the graph has %d", len(g.Inputs))
	}
	opOf := map[string]string{}
	for _, n := range g.Nodes {
		opOf[nodeName(n)] = n.Op
	}
	counts := map[string]PlanOp{}
	for _, p := range plan {
		// A step covering several nodes ("pool+conv+poly") is charged to
		// its linear layer (Conv/Gemm/MatMul), which does the products
		// and rotations; otherwise to its first node.
		parts := strings.Split(p.Name, "+")
		key := parts[0]
		for _, part := range parts {
			if o := opOf[part]; o == "Conv" || o == "Gemm" || o == "MatMul" {
				key = part
				break
			}
		}
		c := counts[key]
		c.Rotations += p.Rotations
		c.Products += p.Products
		counts[key] = c
	}
	val := map[string]int{g.Inputs[0].Name: levelplan.Input}
	var ops []levelplan.Op
	type unit struct{ rot, prod, sq, add int }
	var units []unit
	for _, n := range g.Nodes {
		var ins []int
		for _, in := range n.Inputs {
			if v, ok := val[in]; ok {
				ins = append(ins, v)
			}
		}
		name := nodeName(n)
		c := counts[name]
		switch {
		case n.Op == "Flatten" || n.Op == "Reshape" || n.Op == "Pad" || n.Op == "Identity" || n.Op == "Constant":
			if len(ins) == 1 {
				val[n.Outputs[0]] = ins[0]
			}
			continue
		case len(ins) == 0:
			continue // constants only
		}
		op := levelplan.Op{Name: n.Op + " " + name, Inputs: ins}
		u := unit{rot: c.Rotations, prod: max(c.Products, 1)}
		switch n.Op {
		case "Conv", "Gemm", "MatMul":
			op.Depth = 1
		case "AveragePool", "GlobalAveragePool":
			u.prod = 0
		case "Add":
			if len(ins) != 2 {
				return nil, nil, fmt.Errorf("henn: node %s adds %d encrypted values (want 2: a residual join)", name, len(ins))
			}
			u = unit{add: 1}
		case graph.OpPoly, "Relu":
			act := act
			if act.Name == "" { // the model's own activation
				d := 2
				if n.Op == graph.OpPoly {
					d = max(len(n.AttrFloats("coefficients"))-1, 1)
				}
				act = ActivationVariant{Name: n.Op, Degrees: []int{d}, Levels: polyDepth(d), Mults: polyMults(d)}
			}
			if len(act.Degrees) > 1 {
				// Composite ReLU x·(1+sign(x))/2: the sign polynomials form
				// a branch (a bootstrap may fall between them, as in Orion),
				// joined with x by the final product.
				x := ins[0]
				for k, d := range act.Degrees {
					ops = append(ops, levelplan.Op{Name: fmt.Sprintf("sign%d(deg %d) %s", k+1, d, name), Inputs: []int{x}, Depth: polyDepth(d)})
					units = append(units, unit{sq: polyMults(d)})
					x = len(ops) - 1
				}
				op = levelplan.Op{Name: "x·sign " + name, Inputs: []int{ins[0], x}, Depth: 1}
				u = unit{sq: 1}
				break
			}
			op.Depth = act.Levels
			u = unit{sq: act.Mults}
		default:
			return nil, nil, fmt.Errorf("henn: depth table: operation %s (%s) is not supported", n.Op, name)
		}
		ops = append(ops, op)
		units = append(units, u)
		val[n.Outputs[0]] = len(ops) - 1
	}
	at := func(s []float64, l int) float64 { return s[min(max(l, 0), len(s)-1)] }
	cost := func(op, level int) float64 {
		u := units[op]
		return float64(u.rot)*at(costs.Rotate, level) + float64(u.prod)*at(costs.PlainMul, level) +
			float64(u.sq)*at(costs.Square, level) + float64(u.add)*at(costs.Add, level)
	}
	return ops, cost, nil
}

// DepthConfig configures [DepthTable].
type DepthConfig struct {
	// Model is the ONNX (or .henn) model whose structure is tabulated.
	Model string
	// Accuracies is the deep_models.json written by scripts/deep_models.py
	// ("" leaves the accuracy columns empty).
	Accuracies string
	// LogN selects the bootstrapping preset (15 or 16): its levels after a
	// bootstrap bound every stretch between bootstraps.
	LogN int
	// CostsFile holds operation costs (he.OpCosts JSON) measured at the
	// preset's residual parameters; "" measures them now (Reps runs).
	CostsFile string
	Reps      int
	// BootstrapFile is the JSON of `krelu he --bootstrap --json` at the same
	// preset; "" counts bootstraps without predicting their time.
	BootstrapFile string
}

// DepthRow is one line of the depth table.
type DepthRow struct {
	ActivationVariant
	// PlainAccuracy is the test accuracy of the network trained
	// (fine-tuned) with this activation, SubstitutedAccuracy that of the
	// ReLU network with the activation substituted, untrained.
	PlainAccuracy       *float64 `json:"plaintext_accuracy,omitempty"`
	SubstitutedAccuracy *float64 `json:"substituted_accuracy,omitempty"`
	NetworkLevels       int      `json:"network_levels"`
	Bootstraps          int      `json:"bootstraps"`
	// PredictedSeconds is the planner's predicted latency of one
	// ciphertext (CPU seconds): operations at their planned levels plus
	// bootstraps; PredictedAmortized divides by the inputs per ciphertext.
	PredictedSeconds   float64           `json:"predicted_cpu_seconds"`
	PredictedAmortized float64           `json:"predicted_cpu_seconds_amortized"`
	Plan               *levelplan.Result `json:"plan"`
	// Infeasible says why the activation cannot run under the preset.
	Infeasible string `json:"infeasible,omitempty"`
}

// DepthReport is the depth table.
type DepthReport struct {
	Model         string      `json:"model"`
	Activations   int         `json:"activation_layers"`
	Preset        string      `json:"bootstrap_preset"`
	BootLevel     int         `json:"levels_after_bootstrap"`
	BootstrapCPU  float64     `json:"bootstrap_cpu_seconds"`
	InputsPerCt   int         `json:"inputs_per_ciphertext"`
	SlotsPerInput int         `json:"slots_per_input"`
	Rows          []DepthRow  `json:"rows"`
	Costs         *he.OpCosts `json:"op_costs"`
	// The bootstrapping preset's chains and predicted key size.
	ResidualLogQP    float64 `json:"residual_logqp"`
	CircuitLogQP     float64 `json:"circuit_logqp"`
	CircuitDepth     int     `json:"bootstrap_circuit_depth"`
	GaloisKeys       int     `json:"bootstrap_galois_keys"`
	KeyBytesEstimate int64   `json:"bootstrap_key_bytes_estimate"`
}

// DepthTable plans the model with every activation variant and tabulates
// levels, bootstraps and predicted latency (issue 12's depth argument).
func DepthTable(cfg DepthConfig) (*DepthReport, error) {
	preset, err := he.BootstrapPresetForLogN(cfg.LogN)
	if err != nil {
		return nil, err
	}
	g, err := loadGraph(cfg.Model)
	if err != nil {
		return nil, err
	}
	bp, err := he.NewBootstrapParams(preset)
	if err != nil {
		return nil, err
	}
	var costs *he.OpCosts
	if cfg.CostsFile != "" {
		// Either bare he.OpCosts or an earlier depth report holding them.
		var doc struct {
			he.OpCosts
			Nested *he.OpCosts `json:"op_costs"`
		}
		if err := readJSON(cfg.CostsFile, &doc); err != nil {
			return nil, err
		}
		costs = &doc.OpCosts
		if doc.Nested != nil {
			costs = doc.Nested
		}
		if costs.Preset != preset.Name || len(costs.Square) != bp.LevelsAfter()+1 {
			return nil, fmt.Errorf("%s: costs measured for %s with %d levels, preset %s has %d", cfg.CostsFile, costs.Preset, len(costs.Square)-1, preset.Name, bp.LevelsAfter())
		}
	} else if costs, err = he.MeasureOpCosts(bp.Residual(), preset.Name, cfg.Reps); err != nil {
		return nil, err
	}
	var boot *he.BootstrapReport
	if cfg.BootstrapFile != "" {
		if err := readJSON(cfg.BootstrapFile, &boot); err != nil {
			return nil, err
		}
		if boot.Preset != preset.Name {
			return nil, fmt.Errorf("%s: bootstrap measured with preset %s, the table uses %s", cfg.BootstrapFile, boot.Preset, preset.Name)
		}
	}
	cfgLevels := bp.LevelsAfter()
	rep := &DepthReport{Model: cfg.Model, Preset: preset.Name, BootLevel: cfgLevels, Costs: costs,
		ResidualLogQP: bp.Residual().LogQP(), CircuitLogQP: bp.Circuit().LogQP(), CircuitDepth: bp.CircuitDepth(),
		GaloisKeys: bp.NumGaloisKeys(), KeyBytesEstimate: bp.KeyBytesEstimate()}
	var plan []PlanOp
	if m, err := CompileGraph(g, Options{}); err == nil {
		plan = m.Plan()
		l := m.Layout()
		rep.SlotsPerInput = l.Block
		// The bootstrapping ring holds 2^(LogN−1) complex slots.
		rep.InputsPerCt = max(1, bp.Residual().MaxSlots()/max(l.Block, 1))
	} else {
		return nil, fmt.Errorf("henn: depth table: compiling %s: %w", cfg.Model, err)
	}
	acc := map[string]struct {
		Accuracy    *float64 `json:"accuracy"`
		Substituted *float64 `json:"substituted_accuracy"`
	}{}
	if cfg.Accuracies != "" {
		b, err := os.ReadFile(cfg.Accuracies)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Variants map[string]json.RawMessage `json:"variants"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Accuracies, err)
		}
		for k, raw := range doc.Variants {
			e := acc[k]
			_ = json.Unmarshal(raw, &e)
			acc[k] = e
		}
	}
	var bootCost float64
	if boot != nil {
		bootCost = boot.BootstrapCPUSeconds
		rep.BootstrapCPU = bootCost
	}
	for _, n := range g.Nodes {
		if n.Op == graph.OpPoly || n.Op == "Relu" {
			rep.Activations++
		}
	}
	for _, v := range DepthVariants() {
		ops, cost, err := NetworkOps(g, v, plan, costs)
		if err != nil {
			return nil, err
		}
		res, err := levelplan.Plan(ops, levelplan.Config{MaxLevel: cfgLevels, BootLevel: cfgLevels, OpCost: cost, BootCost: bootCost})
		if errors.Is(err, levelplan.ErrInfeasible) {
			deepest := 0
			for _, op := range ops {
				deepest = max(deepest, op.Depth)
			}
			rep.Rows = append(rep.Rows, DepthRow{ActivationVariant: v, Bootstraps: -1,
				Infeasible: fmt.Sprintf("one step needs %d levels, a bootstrap gives %d", deepest, cfgLevels)})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("henn: depth table, %s: %w", v.Name, err)
		}
		row := DepthRow{ActivationVariant: v, Bootstraps: res.NumBootstraps(), PredictedSeconds: res.Predicted, Plan: res}
		row.PredictedAmortized = res.Predicted / float64(max(rep.InputsPerCt, 1))
		for _, op := range ops {
			row.NetworkLevels += op.Depth // residual shortcuts are empty: this is the main path
		}
		key := v.Name
		if strings.HasPrefix(key, "composite") {
			key = "relu" // the exact ReLU network; see docs/deep.md
		}
		if a, ok := acc[key]; ok {
			row.PlainAccuracy = a.Accuracy
			row.SubstitutedAccuracy = a.Substituted
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

// String formats the depth table as Markdown.
func (r *DepthReport) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "model %s: %d activation layers; bootstrapping preset %s (%d levels after a bootstrap, bootstrap %.1f CPU s); %d slots per input, %d inputs per ciphertext\n",
		r.Model, r.Activations, r.Preset, r.BootLevel, r.BootstrapCPU, r.SlotsPerInput, r.InputsPerCt)
	fmt.Fprintf(&sb, "preset %s: log2 QP residual %.0f, circuit %.0f; circuit depth %d; %d Galois keys; bootstrapping keys ≈ %.2f GB (estimated from the parameters)\n\n",
		r.Preset, r.ResidualLogQP, r.CircuitLogQP, r.CircuitDepth, r.GaloisKeys, float64(r.KeyBytesEstimate)/1e9)
	fmt.Fprintf(&sb, "| activation | degrees | levels / act. | network levels | bootstraps / inference | plaintext acc. (trained) | plaintext acc. (substituted) | predicted CPU s / ciphertext | predicted CPU s / image (amortized) |\n")
	fmt.Fprintf(&sb, "|---|---|---|---|---|---|---|---|---|\n")
	pct := func(p *float64) string {
		if p == nil {
			return "—"
		}
		return fmt.Sprintf("%.2f %%", 100**p)
	}
	for _, row := range r.Rows {
		if row.Infeasible != "" {
			fmt.Fprintf(&sb, "| %s | %v | %d | — | infeasible: %s | | | | |\n", row.Name, row.Degrees, row.Levels, row.Infeasible)
			continue
		}
		fmt.Fprintf(&sb, "| %s | %v | %d | %d | %d | %s | %s | %.1f | %.3g |\n", row.Name, row.Degrees, row.Levels, row.NetworkLevels,
			row.Bootstraps, pct(row.PlainAccuracy), pct(row.SubstitutedAccuracy), row.PredictedSeconds, row.PredictedAmortized)
	}
	return sb.String()
}

// loadGraph reads an ONNX model or the graph of a .henn model file.
func loadGraph(path string) (*graph.Graph, error) {
	if strings.HasSuffix(path, ".henn") {
		mf, err := ReadModelFile(path)
		if err != nil {
			return nil, err
		}
		return mf.Graph, nil
	}
	return onnx.ReadFile(path, onnx.Options{})
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: not valid JSON: %v", path, err)
	}
	return nil
}

// LevelPlan plans bootstraps and levels for g as compiled (each
// activation at its own degree) under the bootstrapping preset of logN,
// with the relative cost model of package levelplan (an operation at level
// ℓ costs ∝ ℓ+1 RNS limbs, times its rotations and products in the
// compiled plan; a bootstrap counts 40·(L+1) units — bootstraps are
// minimised first, so this constant only shifts the total). It is what
// `krelu inspect` prints; measured costs are used by [DepthTable].
func LevelPlan(g *graph.Graph, plan []PlanOp, logN int) (*levelplan.Result, error) {
	preset, err := he.BootstrapPresetForLogN(logN)
	if err != nil {
		return nil, err
	}
	L := preset.Residual.LogQ
	levels := len(L) - 1
	unit := make([]float64, levels+1)
	for l := range unit {
		unit[l] = float64(l + 1)
	}
	costs := &he.OpCosts{Preset: preset.Name, LogN: logN, Square: unit, PlainMul: unit, Rotate: unit, Add: make([]float64, levels+1)}
	ops, cost, err := NetworkOps(g, ActivationVariant{}, plan, costs)
	if err != nil {
		return nil, err
	}
	return levelplan.Plan(ops, levelplan.Config{MaxLevel: levels, BootLevel: levels, OpCost: cost, BootCost: 40 * float64(levels+1)})
}
