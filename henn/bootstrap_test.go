package henn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/krelu/krelu/graph"
	"github.com/krelu/krelu/he"
	"github.com/krelu/krelu/internal/logits"
	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
	"github.com/tuneinsight/lattigo/v6/utils"
)

// insecureToyBoot are INSECURE toy bootstrapping parameters (LogN 10,
// 512 complex slots, 3 levels after each bootstrap) built with Lattigo
// directly, bypassing he.NewBootstrapParams's 128-bit check, so that a
// whole bootstrapped network runs in seconds. They follow the structure of
// he's N15-BTP4 preset; as in Lattigo's own bootstrapping tests at small
// rings, the message ratio grows by 15 − log2(slots) bits to keep the
// precision of the large ring. Never use them for data.
type insecureToyBoot struct {
	btp bootstrapping.Parameters
}

func newInsecureToyBoot(tb testing.TB, levels int) *insecureToyBoot {
	tb.Helper()
	logQ := []int{55}
	for range levels {
		logQ = append(logQ, 31)
	}
	res, err := ckks.NewParametersFromLiteral(ckks.ParametersLiteral{LogN: 10, LogQ: logQ, LogP: []int{56, 56}, LogDefaultScale: 31})
	if err != nil {
		tb.Fatal(err)
	}
	btp, err := bootstrapping.NewParametersFromLiteral(res, bootstrapping.ParametersLiteral{
		LogN: utils.Pointy(10), LogP: []int{56, 56}, Xs: res.Xs(),
		SlotsToCoeffsFactorizationDepthAndLogScales: [][]int{{30, 30}},
		CoeffsToSlotsFactorizationDepthAndLogScales: [][]int{{52}, {52}},
		EvalModLogScale: utils.Pointy(55)})
	if err != nil {
		tb.Fatal(err)
	}
	btp.Mod1ParametersLiteral.LogMessageRatio += 15 - res.LogMaxSlots()
	return &insecureToyBoot{btp: btp}
}

func (t *insecureToyBoot) Name() string              { return "INSECURE-toy" }
func (t *insecureToyBoot) Residual() ckks.Parameters { return t.btp.ResidualParameters }
func (t *insecureToyBoot) LevelsAfter() int          { return t.btp.ResidualParameters.MaxLevel() }

func (t *insecureToyBoot) CheckBootstrapInput(ct *rlwe.Ciphertext) error {
	if err := he.CheckCiphertext(t.Residual(), ct); err != nil {
		return err
	}
	if m, _ := math.Frexp(ct.Scale.Float64()); ct.Level() == 0 && m != 0.5 {
		return fmt.Errorf("scale 2^%.3f at level 0 is not a power of two", ct.Scale.Log2())
	}
	return nil
}

// toyParty is a client and the server's key material for the toy
// parameters, made with Lattigo directly (he.KeyOwner refuses them).
type toyParty struct {
	params ckks.Parameters
	sk     *rlwe.SecretKey
	keys   *rlwe.MemEvaluationKeySet
	boot   *bootstrapping.Evaluator
}

func newToyParty(tb testing.TB, m *Model, tgt *insecureToyBoot) *toyParty {
	tb.Helper()
	params := tgt.Residual()
	kgen := rlwe.NewKeyGenerator(params)
	sk := kgen.GenSecretKeyNew()
	var gks []*rlwe.GaloisKey
	for _, r := range m.Rotations() {
		gks = append(gks, kgen.GenGaloisKeyNew(params.GaloisElement(r), sk))
	}
	bk, _, err := tgt.btp.GenEvaluationKeys(sk)
	if err != nil {
		tb.Fatal(err)
	}
	ev, err := bootstrapping.NewEvaluator(tgt.btp, bk)
	if err != nil {
		tb.Fatal(err)
	}
	return &toyParty{params: params, sk: sk, keys: rlwe.NewMemEvaluationKeySet(kgen.GenRelinearizationKeyNew(sk), gks...), boot: ev}
}

type toyRefresher struct{ ev *bootstrapping.Evaluator }

func (r toyRefresher) Bootstrap(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	return r.ev.Bootstrap(ct.CopyNew())
}

// offsetRefresher is a broken bootstrap (adds 0.05 to every slot), for
// the negative control.
type offsetRefresher struct {
	r      toyRefresher
	params ckks.Parameters
}

func (o offsetRefresher) Bootstrap(ct *rlwe.Ciphertext) (*rlwe.Ciphertext, error) {
	out, err := o.r.Bootstrap(ct)
	if err != nil {
		return nil, err
	}
	return out, ckks.NewEvaluator(o.params, nil).Add(out, 0.05, out)
}

func (p *toyParty) encrypt(tb testing.TB, l Layout, group [][]float64, level int, scale rlwe.Scale) *Ciphertexts {
	tb.Helper()
	pt := ckks.NewPlaintext(p.params, level)
	pt.Scale = scale
	if err := ckks.NewEncoder(p.params).Encode(packedSlots(l, group), pt); err != nil {
		tb.Fatal(err)
	}
	ct, err := rlwe.NewEncryptor(p.params, p.sk).EncryptNew(pt)
	if err != nil {
		tb.Fatal(err)
	}
	return &Ciphertexts{Groups: [][]*rlwe.Ciphertext{{ct}}, Counts: []int{len(group)}}
}

func (p *toyParty) decrypt(tb testing.TB, l Layout, out *Ciphertexts) [][]float64 {
	tb.Helper()
	v := make([]float64, p.params.MaxSlots())
	if err := ckks.NewEncoder(p.params).Decode(rlwe.NewDecryptor(p.params, p.sk).DecryptNew(out.Groups[0][0]), v); err != nil {
		tb.Fatal(err)
	}
	var logits [][]float64
	for s := 0; s < out.Counts[0]; s++ {
		y := make([]float64, l.OutputDim)
		for j := range y {
			y[j] = v[j*l.Stride+s]
		}
		logits = append(logits, y)
	}
	return logits
}

// residualJoinGraph has a true residual join of two ciphertexts: conv →
// act → pool → conv → act → conv → act, + the pooled activation → act →
// fc (9 levels), so a bootstrap must refresh the skip branch as well.
func residualJoinGraph(rng *rand.Rand) *graph.Graph {
	g := testGraph(rng)
	ints := func(v ...int64) graph.Attr { return graph.Attr{Kind: graph.AttrInts, Ints: v} }
	poly := graph.Attr{Kind: graph.AttrFloats, Floats: []float64{0.1, 0.5, 0.2}}
	for _, name := range []string{"w3", "w4"} {
		t := graph.Zeros(2, 2, 3, 3)
		for i := range t.Data {
			t.Data[i] = 0.3 * (2*rng.Float64() - 1)
		}
		g.Initializers[name] = t
	}
	conv := func(name, in, w, out string) *graph.Node {
		return &graph.Node{Op: "Conv", Name: name, Inputs: []string{in, w}, Outputs: []string{out},
			Attrs: map[string]graph.Attr{"pads": ints(1, 1, 1, 1), "kernel_shape": ints(3, 3)}}
	}
	act := func(name, in, out string) *graph.Node {
		return &graph.Node{Op: graph.OpPoly, Name: name, Inputs: []string{in}, Outputs: []string{out}, Attrs: map[string]graph.Attr{"coefficients": poly}}
	}
	// Keep conv1, bn1, act1, pool; then two activations on a branch and a
	// join with the pooled value.
	g.Nodes = append(g.Nodes[:4],
		conv("conv2", "p1", "w2", "c2"), act("act2", "c2", "a2"),
		conv("conv3", "a2", "w3", "c3"), act("act3", "c3", "a3"),
		&graph.Node{Op: "Add", Name: "skip", Inputs: []string{"a3", "p1"}, Outputs: []string{"r"}},
		act("act4", "r", "a4"),
		&graph.Node{Op: "Flatten", Name: "flat", Inputs: []string{"a4"}, Outputs: []string{"f"}},
		&graph.Node{Op: "Gemm", Name: "fc", Inputs: []string{"f", "wf", "bf"}, Outputs: []string{"y"},
			Attrs: map[string]graph.Attr{"transB": {Kind: graph.AttrInt, Int: 1}}})
	return g
}

// TestBootstrappedGraph runs graphs deeper than the toy chain encrypted,
// with the planned bootstraps executed by Lattigo's bootstrapping circuit
// at INSECURE toy parameters, and compares with the plaintext graph.
func TestBootstrappedGraph(t *testing.T) {
	for _, tc := range []struct {
		name      string
		graph     func(*rand.Rand) *graph.Graph
		levels    int
		minBoots  int
		wantDepth int
		inScale   float64 // inputs uniform in [0, inScale)
	}{
		{"residual CNN, 3 levels per bootstrap", testGraph, 3, 1, 5, 1},
		{"two-branch join, 2 levels per bootstrap", residualJoinGraph, 2, 4, 9, 1},
		// Inputs up to 8: the bootstrapped squares reach ≈ 50 and are
		// divided down to ≤ 1/2 with factors from calibration inputs.
		{"residual CNN, large values, calibrated", testGraph, 3, 1, 5, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Keep the convolutions' grid layout (the hybrid form would
			// flatten the small grids, and a convolution needs a grid).
			forceNatural = true
			defer func() { forceNatural = false }()
			rng := rand.New(rand.NewPCG(7, 8))
			g := tc.graph(rng)
			tgt := newInsecureToyBoot(t, tc.levels)
			opts := Options{boot: tgt}
			if tc.inScale != 1 {
				calib, _ := randomRuns(t, rng, g, 8)
				for _, x := range calib {
					for i := range x {
						x[i] *= tc.inScale
					}
					opts.Calibration = append(opts.Calibration, &graph.Tensor{Shape: []int{1, 1, 6, 6}, Data: x})
				}
			}
			m, err := CompileGraph(g, opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.inScale != 1 {
				big := 0.0
				for _, f := range m.gp.boot.factor {
					big = max(big, f)
				}
				if big <= 1 {
					t.Errorf("largest bootstrap divisor %.3g: the calibrated run should divide the large squares", big)
				}
				t.Logf("bootstrapped value bounds %v, largest divisor %.3g", m.gp.boot.bounds, big)
			}
			if m.Depth() != tc.wantDepth {
				t.Errorf("depth %d, want %d", m.Depth(), tc.wantDepth)
			}
			bs := m.Bootstraps()
			if len(bs) < tc.minBoots || !m.NeedsBootstrapKeys() {
				t.Fatalf("%d bootstraps planned, want ≥ %d", len(bs), tc.minBoots)
			}
			for _, b := range bs {
				t.Logf("bootstrap after step %d (%s) from level %d, before %d (%s)", b.After, b.AfterName, b.FromLevel, b.Before, b.BeforeName)
			}
			for i, op := range m.Plan() {
				t.Logf("step %d %s %q level %d bootstrap %v", i, op.Kind, op.Name, op.Level, op.Bootstrap)
			}
			p := newToyParty(t, m, tgt)
			s, err := newServer(m, p.keys, toyRefresher{p.boot})
			if err != nil {
				t.Fatal(err)
			}
			l := m.Layout()
			inputs, want := randomRunsScaled(t, rng, g, 4, tc.inScale)
			out, err := s.Evaluate(p.encrypt(t, l, inputs, l.Level, p.params.DefaultScale()))
			if err != nil {
				t.Fatal(err)
			}
			if lvl := out.Groups[0][0].Level(); lvl < 0 {
				t.Fatalf("output at level %d", lvl)
			}
			got := p.decrypt(t, l, out)
			var worst, spread float64
			for i := range want {
				for j := range want[i] {
					worst = max(worst, math.Abs(got[i][j]-want[i][j]))
					spread = max(spread, math.Abs(want[i][j]))
				}
				if logits.Argmax(got[i]) != logits.Argmax(want[i]) {
					t.Errorf("input %d: encrypted class %d, plaintext %d", i, logits.Argmax(got[i]), logits.Argmax(want[i]))
				}
			}
			t.Logf("%d bootstraps; max |encrypted − plaintext| = %.3g (logits up to %.3g)", len(bs), worst, spread)
			if worst > 1e-2*max(1, spread) {
				t.Errorf("max logit error %.3g > 1e-2 × %.3g", worst, max(1, spread))
			}

			// Negative control: a bootstrap that returns its input plus
			// 0.05 in every slot must be visible in the logits, i.e. the
			// refreshed ciphertexts are really the ones evaluated.
			bad, err := newServer(m, p.keys, offsetRefresher{toyRefresher{p.boot}, p.params})
			if err != nil {
				t.Fatal(err)
			}
			out, err = bad.Evaluate(p.encrypt(t, l, inputs, l.Level, p.params.DefaultScale()))
			if err != nil {
				t.Fatal(err)
			}
			badGot := p.decrypt(t, l, out)
			var moved float64
			for i := range want {
				for j := range want[i] {
					moved = max(moved, math.Abs(badGot[i][j]-want[i][j]))
				}
			}
			if moved < 1e-3 {
				t.Errorf("a corrupted bootstrap moved the logits by only %.3g", moved)
			}
		})
	}
}

// randomRunsScaled is randomRuns with inputs uniform in [0, scale).
func randomRunsScaled(t *testing.T, rng *rand.Rand, g *graph.Graph, n int, scale float64) (inputs, want [][]float64) {
	t.Helper()
	for range n {
		x := graph.Zeros(1, 1, 6, 6)
		for i := range x.Data {
			x.Data[i] = scale * rng.Float64()
		}
		out, err := g.Run(map[string]*graph.Tensor{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		inputs, want = append(inputs, x.Data), append(want, out["y"].Data)
	}
	return inputs, want
}

// TestBootstrappedGraphErrors: wrong inputs to a bootstrapping model give
// clear errors.
func TestBootstrappedGraphErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	g := testGraph(rng)
	tgt := newInsecureToyBoot(t, 3)
	m, err := CompileGraph(g, Options{boot: tgt})
	if err != nil {
		t.Fatal(err)
	}
	l := m.Layout()
	p := newToyParty(t, m, tgt)
	inputs, _ := randomRuns(t, rng, g, 1)
	s, err := newServer(m, p.keys, toyRefresher{p.boot})
	if err != nil {
		t.Fatal(err)
	}
	wantErr := func(what string, err error, sub string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), sub) {
			t.Errorf("%s: error %v, want it to mention %q", what, err, sub)
		}
	}
	if l.Level > 0 {
		_, err = s.Evaluate(p.encrypt(t, l, inputs, l.Level-1, p.params.DefaultScale()))
		wantErr("ciphertext below the input level", err, "level")
	}
	_, err = s.Evaluate(p.encrypt(t, l, inputs, l.Level, p.params.DefaultScale().Mul(rlwe.NewScale(2))))
	wantErr("ciphertext at the wrong scale", err, "scale")

	// A server without bootstrapping keys fails at the first bootstrap,
	// and NewServer refuses the model outright.
	bare, err := newServer(m, p.keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bare.Evaluate(p.encrypt(t, l, inputs, l.Level, p.params.DefaultScale()))
	wantErr("server without bootstrapping keys", err, "no bootstrapping keys")
	_, err = NewServer(m, nil)
	wantErr("NewServer", err, "bootstrapping keys")

	// Secure presets: the checks that run before any key is used.
	bp15 := bootParams(t, 15)
	m15, err := CompileGraph(g, Options{Bootstrap: bp15})
	if err != nil {
		t.Fatal(err)
	}
	if m15.Preset() != "N15-BTP4" || len(m15.Bootstraps()) == 0 {
		t.Errorf("compiled under %s with %d bootstraps, want N15-BTP4 with ≥ 1", m15.Preset(), len(m15.Bootstraps()))
	}
	_, err = NewBootstrapServer(m15, nil, nil)
	wantErr("missing bootstrapping keys", err, "needs the client's bootstrapping keys")
	_, err = NewBootstrapServer(m15, nil, &he.BootstrapKeys{})
	wantErr("empty bootstrapping keys", err, "needs the client's bootstrapping keys")
	wantErr("keys of other parameters", checkBootKeyParams(bp15, bootParams(t, 16)), "other parameters")
	plain, err := CompileGraph(g, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewBootstrapServer(plain, nil, nil)
	wantErr("bootstrap server for a model that fits one chain", err, "does not bootstrap")
}

func bootParams(tb testing.TB, logN int) *he.BootstrapParams {
	tb.Helper()
	p, err := he.BootstrapPresetForLogN(logN)
	if err != nil {
		tb.Fatal(err)
	}
	bp, err := he.NewBootstrapParams(p)
	if err != nil {
		tb.Fatal(err)
	}
	return bp
}

// TestBootstrappedGraphSecure runs the residual CNN under the secure
// N15-BTP4 preset end to end through the public API: bootstrapping keys
// (≈ 4 GB) made by the client, sent as evaluation keys, used by the
// server. It needs ≈ 12 GB of RAM and minutes, so it runs only with
// KRELU_BOOTSTRAP=15 and never under -short.
func TestBootstrappedGraphSecure(t *testing.T) {
	if testing.Short() || os.Getenv("KRELU_BOOTSTRAP") != "15" {
		t.Skip("set KRELU_BOOTSTRAP=15 (without -short) to run the secure bootstrapped network (≈ 12 GB RAM)")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	g := testGraph(rng)
	m, err := CompileGraph(g, Options{Bootstrap: bootParams(t, 15)})
	if err != nil {
		t.Fatal(err)
	}
	c, evk := keyed(t, m)
	bk, err := c.BootstrapKeys(m.BootstrapParams())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewBootstrapServer(m, evk, bk)
	if err != nil {
		t.Fatal(err)
	}
	inputs, want := randomRuns(t, rng, g, 3)
	got := infer(t, c, s, m.Layout(), inputs)
	for i := range want {
		for j := range want[i] {
			if d := math.Abs(got[i][j] - want[i][j]); d > 1e-2 {
				t.Errorf("input %d logit %d: encrypted %.5f, plaintext %.5f", i, j, got[i][j], want[i][j])
			}
		}
	}
}

// TestInspectBootstrap: krelu inspect --bootstrap reports the executed
// bootstraps of a .henn model, and the plan without the switch has none.
func TestInspectBootstrap(t *testing.T) {
	g := testGraph(rand.New(rand.NewPCG(7, 8)))
	path := t.TempDir() + "/m.henn"
	if err := WriteModelFile(path, &ModelFile{Source: "test", Graph: g}); err != nil {
		t.Fatal(err)
	}
	ins, err := Inspect(path, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	p := ins.Plan
	if p == nil || p.Preset != "N15-BTP4" || len(p.Bootstraps) == 0 || p.LevelsAfterBoot != 4 || p.BootstrapKeyBytes <= 0 {
		t.Fatalf("plan %+v: want N15-BTP4 with bootstraps", p)
	}
	marked := 0
	for _, s := range p.Steps {
		if s.Bootstrap {
			marked++
		}
	}
	if marked == 0 {
		t.Error("no step is marked as bootstrapped")
	}
	if ins, err = Inspect(path, 0, false); err != nil || len(ins.Plan.Bootstraps) != 0 {
		t.Errorf("without --bootstrap: %d bootstraps, err %v", len(ins.Plan.Bootstraps), err)
	}
	if _, err := Inspect(path, 14, true); err == nil || !strings.Contains(err.Error(), "LogN 14") {
		t.Errorf("--bootstrap --logn 14: error %v, want one naming LogN 14", err)
	}
}
