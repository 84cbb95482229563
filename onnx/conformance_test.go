package onnx

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/onnx/internal/onnxpb"
)

// testdataDir is where Debian's libonnx-testdata installs ONNX's
// conformance suite (scripts/setup.sh installs it).
const testdataDir = "/usr/share/libonnx-testdata/data"

var conformanceSuites = []string{"node", "pytorch-converted", "pytorch-operator"}

// shapeMismatches collects the cases where graph.InferShapes disagrees
// with a forward pass on zero inputs; shapeChecks counts the comparisons.
var (
	shapeMismatches []string
	shapeChecks     int
)

var tableOut = flag.String("table", "", "write the ONNX conformance table (markdown) to this file")

// ONNX's test runner tolerances (onnx/backend/test/runner).
const confRtol, confAtol = 1e-3, 1e-7

type caseStatus int

const (
	statusPass caseStatus = iota
	statusFail
	statusUnsupported
)

type caseResult struct {
	suite, name string
	ops         []string
	status      caseStatus
	reason      string
}

// mustPass are the ops every conformance case of which must pass.
var mustPass = []string{"Gemm", "MatMul", "Conv", "BatchNormalization", "AveragePool", "Relu", "Add", "Flatten", "Reshape"}

// TestConformance runs every case of ONNX's node, pytorch-converted and
// pytorch-operator suites. A case whose ops are all implemented must match
// the expected outputs (rtol 1e-3, atol 1e-7); other cases are counted as
// not supported with the reason. With -table FILE it writes the per-op
// table to FILE (docs/onnx-conformance.md).
func TestConformance(t *testing.T) {
	if _, err := os.Stat(testdataDir); err != nil {
		t.Fatalf("ONNX conformance data missing (%v): run scripts/setup.sh (installs Debian libonnx-testdata)", err)
	}
	var results []caseResult
	for _, suite := range conformanceSuites {
		dirs, err := os.ReadDir(filepath.Join(testdataDir, suite))
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dirs {
			if !d.IsDir() {
				continue
			}
			r := runCase(filepath.Join(testdataDir, suite, d.Name()))
			r.suite, r.name = suite, d.Name()
			results = append(results, r)
		}
	}
	if len(results) < 1000 {
		t.Fatalf("found only %d conformance cases; is libonnx-testdata complete?", len(results))
	}
	pass, fail, unsup := 0, 0, 0
	for _, r := range results {
		switch r.status {
		case statusPass:
			pass++
		case statusFail:
			fail++
			t.Logf("FAIL %s/%s %v: %s", r.suite, r.name, r.ops, r.reason)
		case statusUnsupported:
			unsup++
		}
	}
	t.Logf("conformance: %d cases, %d passed, %d failed, %d not supported; pass rate of supported %.1f%%",
		len(results), pass, fail, unsup, 100*float64(pass)/float64(max(pass+fail, 1)))
	if float64(pass) < 0.95*float64(pass+fail) {
		t.Errorf("only %d of %d supported cases pass (< 95%%)", pass, pass+fail)
	}
	for _, r := range results {
		for _, op := range r.ops {
			for _, m := range mustPass {
				if op == m && r.status == statusFail {
					t.Errorf("%s/%s uses %s and does not pass: %s", r.suite, r.name, op, r.reason)
				}
			}
		}
	}
	for _, m := range shapeMismatches {
		t.Errorf("shape inference: %s", m)
	}
	t.Logf("shape inference agreed with the forward pass on %d data sets", shapeChecks-len(shapeMismatches))
	if *tableOut != "" {
		if err := os.WriteFile(*tableOut, []byte(conformanceTable(results)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runCase loads one case directory and runs all its data sets.
func runCase(dir string) caseResult {
	data, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		return caseResult{status: statusUnsupported, reason: "no model.onnx"}
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return caseResult{status: statusFail, reason: "protobuf: " + err.Error()}
	}
	r := caseResult{}
	seen := map[string]bool{}
	var missing []string
	for _, n := range m.GetGraph().GetNode() {
		op := n.GetOpType()
		if d := n.GetDomain(); d != "" && d != "ai.onnx" {
			op = d + "." + op
		}
		if !seen[op] {
			seen[op] = true
			r.ops = append(r.ops, op)
			if !graph.Supported(op) {
				missing = append(missing, op)
			}
		}
	}
	sort.Strings(r.ops)
	if len(missing) > 0 {
		r.status, r.reason = statusUnsupported, "op "+strings.Join(missing, ", ")
		return r
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		r.status, r.reason = statusUnsupported, "no test data sets"
		return r
	}
	for _, set := range sets {
		if st, reason := runDataSet(data, &m, set); st != statusPass {
			r.status, r.reason = st, filepath.Base(set)+": "+reason
			return r
		}
	}
	r.status = statusPass
	return r
}

func readPB(path string) (*graph.Tensor, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(b, &tp); err != nil {
		return nil, "", err
	}
	t, err := convertTensor(&tp)
	return t, tp.GetName(), err
}

func runDataSet(data []byte, m *onnxpb.ModelProto, set string) (caseStatus, string) {
	inFiles, _ := filepath.Glob(filepath.Join(set, "input_*.pb"))
	outFiles, _ := filepath.Glob(filepath.Join(set, "output_*.pb"))
	sort.Slice(inFiles, func(i, j int) bool { return pbIndex(inFiles[i]) < pbIndex(inFiles[j]) })
	sort.Slice(outFiles, func(i, j int) bool { return pbIndex(outFiles[i]) < pbIndex(outFiles[j]) })
	// Graph inputs that are not initializers, in declaration order.
	inits := map[string]bool{}
	for _, tp := range m.GetGraph().GetInitializer() {
		inits[tp.GetName()] = true
	}
	var inNames []string
	var inInfo []*onnxpb.ValueInfoProto
	for _, vi := range m.GetGraph().GetInput() {
		if !inits[vi.GetName()] {
			inNames = append(inNames, vi.GetName())
			inInfo = append(inInfo, vi)
		}
	}
	inputs := map[string]*graph.Tensor{}
	opt := Options{Dims: map[string]int{}}
	for i, f := range inFiles {
		t, name, err := readPB(f)
		if err != nil {
			if errors.Is(err, ErrUnsupported) {
				return statusUnsupported, "input: " + err.Error()
			}
			return statusFail, "input: " + err.Error()
		}
		if name == "" || !contains(inNames, name) {
			if i >= len(inNames) {
				return statusFail, "more input files than graph inputs"
			}
			name = inNames[i]
		}
		inputs[name] = t
		// Fix symbolic dimensions from the data.
		for j, vi := range inInfo {
			if inNames[j] != name {
				continue
			}
			for k, d := range vi.GetType().GetTensorType().GetShape().GetDim() {
				if p := d.GetDimParam(); p != "" && k < len(t.Shape) {
					opt.Dims[p] = t.Shape[k]
				}
			}
		}
	}
	g, err := Read(data, opt)
	if err != nil {
		var ue *graph.UnsupportedError
		if errors.As(err, &ue) || errors.Is(err, ErrUnsupported) {
			return statusUnsupported, err.Error()
		}
		return statusFail, err.Error()
	}
	// Inputs with unknown (not symbolic) dims take the data's shape.
	for i := range g.Inputs {
		if t, ok := inputs[g.Inputs[i].Name]; ok && len(t.Shape) == len(g.Inputs[i].Shape) {
			g.Inputs[i].Shape = t.Shape
		}
	}
	out, err := g.RunWith(inputs, graph.RunOptions{AllowNonFinite: true})
	if err != nil {
		var ue *graph.UnsupportedError
		if errors.As(err, &ue) || errors.Is(err, graph.ErrUnsupported) {
			return statusUnsupported, err.Error()
		}
		return statusFail, err.Error()
	}
	// Shape inference without the forward pass must agree with the
	// forward pass on zeros it replaced, wherever that pass runs.
	if want, err := forwardShapes(g); err == nil {
		got, err := g.InferShapes()
		if err != nil {
			shapeMismatches = append(shapeMismatches, fmt.Sprintf("%s: InferShapes: %v", set, err))
		} else {
			for k, w := range want {
				if s, ok := got[k]; !ok || !slices.Equal(s, w) {
					shapeMismatches = append(shapeMismatches, fmt.Sprintf("%s: %q inferred %v, forward pass %v", set, k, s, w))
				}
			}
		}
		shapeChecks++
	}
	// Every graph must survive Write → Read with identical results.
	b, err := Write(g)
	if err != nil {
		return statusFail, "export: " + err.Error()
	}
	g2, err := Read(b, Options{})
	if err != nil {
		return statusFail, "re-import: " + err.Error()
	}
	out2, err := g2.RunWith(inputs, graph.RunOptions{AllowNonFinite: true})
	if err != nil {
		return statusFail, "re-imported run: " + err.Error()
	}
	for _, o := range g.Outputs {
		a, b := out[o.Name], out2[o.Name]
		if a == nil || b == nil || len(a.Data) != len(b.Data) {
			return statusFail, "re-imported output " + o.Name + " differs"
		}
		for i := range a.Data {
			if a.Data[i] != b.Data[i] && !(math.IsNaN(a.Data[i]) && math.IsNaN(b.Data[i])) {
				return statusFail, fmt.Sprintf("re-imported output %q element %d: %g vs %g", o.Name, i, b.Data[i], a.Data[i])
			}
		}
	}
	if len(outFiles) > len(g.Outputs) {
		return statusFail, "more expected outputs than graph outputs"
	}
	for i, f := range outFiles {
		want, _, err := readPB(f)
		if err != nil {
			if errors.Is(err, ErrUnsupported) {
				return statusUnsupported, "expected output: " + err.Error()
			}
			return statusFail, "expected output: " + err.Error()
		}
		got := out[g.Outputs[i].Name]
		if msg := compareTensors(got, want); msg != "" {
			return statusFail, fmt.Sprintf("output %q: %s", g.Outputs[i].Name, msg)
		}
	}
	return statusPass, ""
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func pbIndex(path string) int {
	base := filepath.Base(path)
	var i int
	fmt.Sscanf(base[strings.LastIndex(base, "_")+1:], "%d", &i)
	return i
}

// compareTensors applies ONNX's numpy.testing.assert_allclose rule
// |got − want| ≤ atol + rtol·|want|, NaN matching NaN.
func compareTensors(got, want *graph.Tensor) string {
	if got == nil {
		return "not computed"
	}
	if len(got.Shape) != len(want.Shape) || got.Size() != want.Size() {
		return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
	}
	for i := range want.Shape {
		if got.Shape[i] != want.Shape[i] {
			return fmt.Sprintf("shape %v, want %v", got.Shape, want.Shape)
		}
	}
	for i, w := range want.Data {
		g := got.Data[i]
		if math.IsNaN(w) && math.IsNaN(g) {
			continue
		}
		if math.IsInf(w, 0) && g == w {
			continue
		}
		if !(math.Abs(g-w) <= confAtol+confRtol*math.Abs(w)) {
			return fmt.Sprintf("element %d is %g, want %g", i, g, w)
		}
	}
	return ""
}

// conformanceTable renders the per-op markdown table and the lists of
// failed and unsupported cases.
func conformanceTable(results []caseResult) string {
	type counts struct{ pass, fail, unsup int }
	perOp := map[string]*counts{}
	tot := counts{}
	for _, r := range results {
		switch r.status {
		case statusPass:
			tot.pass++
		case statusFail:
			tot.fail++
		default:
			tot.unsup++
		}
		for _, op := range r.ops {
			if !graph.Supported(op) {
				continue
			}
			c := perOp[op]
			if c == nil {
				c = &counts{}
				perOp[op] = c
			}
			switch r.status {
			case statusPass:
				c.pass++
			case statusFail:
				c.fail++
			default:
				c.unsup++
			}
		}
	}
	var b strings.Builder
	b.WriteString("<!-- Generated by: go test ./onnx -run TestConformance -args -table ../docs/onnx-conformance.md — do not edit. -->\n")
	b.WriteString("# ONNX conformance of krelu's graph runtime\n\n")
	fmt.Fprintf(&b, "ONNX 1.12 test data (Debian libonnx-testdata), suites %s; tolerance rtol %g, atol %g.\n\n", strings.Join(conformanceSuites, ", "), confRtol, confAtol)
	fmt.Fprintf(&b, "All cases: %d — passed %d, failed %d, not supported %d (an op, element type or feature krelu does not implement). Pass rate among cases whose ops are all supported: %.1f %%.\n\n",
		len(results), tot.pass, tot.fail, tot.unsup, 100*float64(tot.pass)/float64(max(tot.pass+tot.fail, 1)))
	b.WriteString("Per implemented op (a case counts under every op it uses; \"not supported\" cases use this op together with an unsupported op or element type):\n\n")
	b.WriteString("| op | passed | failed | not supported |\n|---|---:|---:|---:|\n")
	names := make([]string, 0, len(perOp))
	for k := range perOp {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		c := perOp[k]
		fmt.Fprintf(&b, "| %s | %d | %d | %d |\n", k, c.pass, c.fail, c.unsup)
	}
	fmt.Fprintf(&b, "\n## Not-supported cases that use a core op (%s)\n\n", strings.Join(mustPass, ", "))
	b.WriteString("Every core-op case krelu can represent passes; these use the core op together with something it does not implement.\n\n")
	for _, r := range results {
		if r.status != statusUnsupported {
			continue
		}
		for _, op := range r.ops {
			if contains(mustPass, op) {
				fmt.Fprintf(&b, "- %s/%s (%s): %s\n", r.suite, r.name, strings.Join(r.ops, ", "), strings.ReplaceAll(r.reason, "|", "\\|"))
				break
			}
		}
	}
	b.WriteString("\n## Failed cases\n\n")
	nf := 0
	for _, r := range results {
		if r.status == statusFail {
			nf++
			fmt.Fprintf(&b, "- %s/%s: %s\n", r.suite, r.name, strings.ReplaceAll(r.reason, "|", "\\|"))
		}
	}
	if nf == 0 {
		b.WriteString("None.\n")
	}
	b.WriteString("\n## Not supported, by reason\n\n")
	reasons := map[string][]string{}
	for _, r := range results {
		if r.status == statusUnsupported {
			key := r.reason
			if i := strings.Index(key, ": "); strings.HasPrefix(key, "test_data_set") && i >= 0 {
				key = key[i+2:]
			}
			reasons[key] = append(reasons[key], r.name)
		}
	}
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(reasons[keys[i]]) != len(reasons[keys[j]]) {
			return len(reasons[keys[i]]) > len(reasons[keys[j]])
		}
		return keys[i] < keys[j]
	})
	b.WriteString("| cases | reason | examples |\n|---:|---|---|\n")
	for _, k := range keys {
		ex := reasons[k]
		if len(ex) > 3 {
			ex = append(ex[:3:3], "…")
		}
		fmt.Fprintf(&b, "| %d | %s | %s |\n", len(reasons[k]), strings.ReplaceAll(k, "|", "\\|"), strings.Join(ex, ", "))
	}
	return b.String()
}
