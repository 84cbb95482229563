package levelplan

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"
)

// randomNet builds a random series-parallel network of at most maxOps
// operations: a sequence of layers and residual blocks whose branches hold
// 0–2 layers (an empty branch is the identity shortcut).
func randomNet(rng *rand.Rand, maxOps, maxDepth int) []Op {
	var ops []Op
	v := Input
	add := func(name string, depth int, in ...int) int {
		ops = append(ops, Op{Name: name, Inputs: in, Depth: depth})
		return len(ops) - 1
	}
	for len(ops) < maxOps {
		if rng.Intn(3) == 0 && len(ops)+2 <= maxOps {
			ends := [2]int{}
			for k := range ends {
				u := v
				for n := rng.Intn(3); n > 0 && len(ops)+2 <= maxOps; n-- {
					u = add("layer", rng.Intn(maxDepth+1), u)
				}
				ends[k] = u
			}
			v = add("add", rng.Intn(2), ends[0], ends[1])
			continue
		}
		v = add("layer", rng.Intn(maxDepth+1), v)
	}
	return ops
}

// bruteForce enumerates every run level of every operation and every
// bootstrap on every value and on every edge leaving a fork, simulating
// levels along the DAG directly (no decomposition). It returns the best
// (bootstraps, latency) or ok = false.
func bruteForce(ops []Op, cfg Config, cost func(op, level int) float64) (boots int, lat float64, ok bool) {
	L := max(cfg.MaxLevel, cfg.BootLevel)
	n := len(ops)
	consumers := map[int]int{}
	for _, op := range ops {
		for _, in := range op.Inputs {
			consumers[in]++
		}
	}
	// Bootstrap switches: one per value (index v+1), one per (fork value,
	// consumer edge).
	type edge struct{ from, to int }
	var edges []edge
	for i, op := range ops {
		for _, in := range op.Inputs {
			if consumers[in] > 1 {
				edges = append(edges, edge{in, i})
			}
		}
	}
	nFlags := n + 1 + len(edges)
	run := make([]int, n)
	bestB, bestL := math.MaxInt32, math.Inf(1)
	level := make([]int, n+1) // value level after the value bootstrap, index v+1
	for flags := 0; flags < 1<<nFlags; flags++ {
		nb := 0
		for f := flags; f != 0; f &= f - 1 {
			nb++
		}
		if nb > bestB {
			continue
		}
		// Enumerate run levels with an odometer.
		for k := range run {
			run[k] = 0
		}
		for {
			okRun := true
			total := cfg.BootCost * float64(nb)
			level[0] = cfg.MaxLevel
			if flags&1 != 0 {
				if level[0] < cfg.MinBootLevel {
					okRun = false
				}
				level[0] = cfg.BootLevel
			}
			for i := 0; i < n && okRun; i++ {
				avail := math.MaxInt32
				for _, in := range ops[i].Inputs {
					lv := level[in+1]
					for e, ed := range edges {
						if ed.from == in && ed.to == i && flags&(1<<(n+1+e)) != 0 {
							if lv < cfg.MinBootLevel {
								okRun = false
							}
							lv = cfg.BootLevel
						}
					}
					avail = min(avail, lv)
				}
				r := run[i]
				if r > avail || r < ops[i].Depth {
					okRun = false
					break
				}
				total += cost(i, r)
				out := r - ops[i].Depth
				if flags&(1<<(i+1)) != 0 {
					if out < cfg.MinBootLevel {
						okRun = false
					}
					out = cfg.BootLevel
				}
				level[i+1] = out
			}
			if okRun && (nb < bestB || total < bestL-1e-9) {
				bestB, bestL = nb, total
			}
			k := 0
			for k < n {
				run[k]++
				if run[k] <= L {
					break
				}
				run[k] = 0
				k++
			}
			if k == n {
				break
			}
		}
	}
	return bestB, bestL, bestB != math.MaxInt32
}

func TestPlanMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	trials := 300
	if testing.Short() {
		trials = 60
	}
	feasible := 0
	for trial := 0; trial < trials; trial++ {
		ops := randomNet(rng, 1+rng.Intn(5), 2)
		table := make([][]float64, len(ops))
		for i := range table {
			table[i] = make([]float64, 4)
			for l := range table[i] {
				table[i][l] = 0.1 + rng.Float64()
			}
		}
		cost := func(op, level int) float64 { return table[op][level] }
		cfg := Config{MaxLevel: rng.Intn(3), BootLevel: 1 + rng.Intn(2), MinBootLevel: rng.Intn(2), OpCost: cost, BootCost: 2 * rng.Float64()}
		wb, wl, ok := bruteForce(ops, cfg, cost)
		res, err := Plan(ops, cfg)
		if !ok {
			if !errors.Is(err, ErrInfeasible) {
				t.Fatalf("trial %d: brute force finds no plan, Plan returned %v (ops %+v cfg %+v)", trial, err, ops, cfg)
			}
			continue
		}
		feasible++
		if err != nil {
			t.Fatalf("trial %d: %v (ops %+v cfg %+v)", trial, err, ops, cfg)
		}
		if res.NumBootstraps() != wb || math.Abs(res.Predicted-wl) > 1e-9 {
			t.Fatalf("trial %d: plan %d bootstraps %.6f, brute force %d %.6f\nops %+v\ncfg %+v\n%s", trial, res.NumBootstraps(), res.Predicted, wb, wl, ops, cfg, res)
		}
		checkPlan(t, ops, cfg, res)
	}
	if feasible < trials/3 {
		t.Fatalf("only %d of %d random instances feasible: the test checks too little", feasible, trials)
	}
}

// checkPlan replays a returned plan along the DAG: every operation's level
// must be reachable with the bootstraps the plan lists, and the costs must
// add up to Predicted.
func checkPlan(t *testing.T, ops []Op, cfg Config, res *Result) {
	t.Helper()
	level := map[int]int{Input: res.InputLevel}
	shared := map[int]bool{}
	edge := map[[2]int]bool{}
	for _, b := range res.Bootstraps {
		if b.Before < 0 {
			shared[b.After] = true
		} else {
			edge[[2]int{b.After, b.Before}] = true
		}
	}
	boot := func(v, lv int) int {
		if lv < cfg.MinBootLevel {
			t.Fatalf("bootstrap of value %d at level %d < %d\n%s", v, lv, cfg.MinBootLevel, res)
		}
		return cfg.BootLevel
	}
	if shared[Input] {
		level[Input] = boot(Input, level[Input])
	}
	total := cfg.BootCost * float64(res.NumBootstraps())
	for i, op := range ops {
		avail := math.MaxInt32
		for _, in := range op.Inputs {
			lv := level[in]
			if edge[[2]int{in, i}] {
				lv = boot(in, lv)
			}
			avail = min(avail, lv)
		}
		r := res.Ops[i].Level
		if r > avail || r < op.Depth {
			t.Fatalf("operation %d runs at level %d, available %d, depth %d\n%s", i, r, avail, op.Depth, res)
		}
		total += cfg.OpCost(i, r)
		level[i] = r - op.Depth
		if shared[i] {
			level[i] = boot(i, level[i])
		}
	}
	if math.Abs(total-res.Predicted) > 1e-9 {
		t.Fatalf("replayed cost %.6f, plan says %.6f\n%s", total, res.Predicted, res)
	}
}

func TestPlanChain(t *testing.T) {
	// Ten activations of depth 1 after ten linear layers of depth 1, 5
	// levels per bootstrap: 20 levels need 3 bootstraps from a fresh 5.
	var ops []Op
	for i := 0; i < 10; i++ {
		ops = append(ops, Op{Name: "linear", Inputs: []int{len(ops) - 1}, Depth: 1})
		ops = append(ops, Op{Name: "act", Inputs: []int{len(ops) - 1}, Depth: 1})
	}
	res, err := Plan(ops, Config{MaxLevel: 5, BootLevel: 5, BootCost: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.NumBootstraps() != 3 {
		t.Fatalf("%d bootstraps, want 3\n%s", res.NumBootstraps(), res)
	}
	if res.OutputLevel != 0 {
		t.Fatalf("output at level %d: a cheaper plan runs lower", res.OutputLevel)
	}
	if !strings.Contains(res.String(), "3 bootstrap(s)") {
		t.Fatalf("String lacks the count:\n%s", res)
	}
}

func TestPlanErrors(t *testing.T) {
	cfg := Config{MaxLevel: 3, BootLevel: 3, BootCost: 1}
	for _, tc := range []struct {
		name string
		ops  []Op
		cfg  Config
		want string
	}{
		{"empty", nil, cfg, "empty"},
		{"too deep", []Op{{Name: "x", Inputs: []int{Input}, Depth: 4}}, cfg, "no feasible plan"},
		{"forward ref", []Op{{Name: "x", Inputs: []int{1}}, {Name: "y", Inputs: []int{0}}}, cfg, "not an earlier"},
		{"three inputs", []Op{{Name: "x", Inputs: []int{Input, Input, Input}}}, cfg, "3 inputs"},
		{"dangling", []Op{{Name: "x", Inputs: []int{Input}}, {Name: "y", Inputs: []int{Input}}}, cfg, "unused"},
		{"never rejoins", []Op{{Name: "x", Inputs: []int{Input}}, {Name: "y", Inputs: []int{Input}}, {Name: "z", Inputs: []int{1}}}, cfg, "unused"},
		{"negative depth", []Op{{Name: "x", Inputs: []int{Input}, Depth: -1}}, cfg, "negative depth"},
		{"bad boot cost", []Op{{Name: "x", Inputs: []int{Input}}}, Config{MaxLevel: 1, BootLevel: 1, BootCost: math.NaN()}, "BootCost"},
	} {
		_, err := Plan(tc.ops, tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
}
