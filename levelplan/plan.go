package levelplan

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Input is the index that stands for the network's (encrypted) input in
// [Op.Inputs].
const Input = -1

// Op is one operation of the lowered network.
type Op struct {
	Name string
	// Inputs are indices of earlier operations, or [Input]. One input is a
	// layer; two inputs are a residual join (the two branches' values are
	// aligned to one level and scale, then combined).
	Inputs []int
	// Depth is the number of levels the operation consumes.
	Depth int
}

// Config is the level budget and the cost model.
type Config struct {
	// MaxLevel is the highest level a fresh encryption may have.
	MaxLevel int
	// BootLevel is the level a bootstrap returns (≤ MaxLevel is not
	// required: a bootstrap may refresh to any level of its chain).
	BootLevel int
	// MinBootLevel is the lowest level a ciphertext can be bootstrapped
	// from (0 for Lattigo when the scale is a power of two).
	MinBootLevel int
	// OpCost is the predicted time of operation op run with its input at
	// level (≥ its depth). nil counts level+1 per operation, which is
	// proportional to the number of RNS limbs key switching touches.
	OpCost func(op, level int) float64
	// BootCost is the predicted time of one bootstrap.
	BootCost float64
}

// Placed is where one operation runs.
type Placed struct {
	Name string `json:"name"`
	// Level is the level of the operation's input when it runs; its output
	// is at Level − Depth.
	Level int `json:"level"`
	Depth int `json:"depth"`
	// Cost is the predicted time of the operation at that level.
	Cost float64 `json:"cost"`
}

// Bootstrap is a bootstrap on the value produced by operation After
// ([Input] for the network input). Before is the operation whose input it
// feeds, or −1 when it is placed before a fork and feeds every consumer.
type Bootstrap struct {
	After  int `json:"after"`
	Before int `json:"before"`
}

// Result is an optimal plan.
type Result struct {
	// InputLevel is the level to encrypt the input at.
	InputLevel int         `json:"input_level"`
	Ops        []Placed    `json:"ops"`
	Bootstraps []Bootstrap `json:"bootstraps"`
	// OutputLevel is the level of the network's output.
	OutputLevel int `json:"output_level"`
	// Predicted is the predicted latency: operations plus bootstraps.
	Predicted float64 `json:"predicted"`
}

// NumBootstraps is the number of bootstraps per inference.
func (r *Result) NumBootstraps() int { return len(r.Bootstraps) }

// ErrInfeasible is returned when no placement exists (an operation deeper
// than the bootstrap level, say).
var ErrInfeasible = errors.New("levelplan: no feasible plan")

// cost is compared lexicographically: bootstraps first, then latency.
type cost struct {
	boots int
	lat   float64
}

var inf = cost{boots: math.MaxInt32, lat: math.Inf(1)}

func (a cost) less(b cost) bool {
	if a.boots != b.boots {
		return a.boots < b.boots
	}
	return a.lat < b.lat-1e-12*math.Max(1, math.Abs(b.lat))
}

func (a cost) add(b cost) cost {
	if a.boots == inf.boots || b.boots == inf.boots {
		return inf
	}
	return cost{a.boots + b.boots, a.lat + b.lat}
}

func (a cost) ok() bool { return a.boots != inf.boots }

// block is a node of the series-parallel decomposition: a single
// operation, or a residual block (two branches and their join).
type block struct {
	op     int         // the operation (for a residual block: the join)
	from   int         // the value the block consumes
	branch [2][]*block // residual branches; both nil for a single op
	res    bool
}

// Plan returns a plan with the fewest bootstraps and, among those, the
// lowest predicted latency. ops must be in topological order, have one
// sink (the output) and be series-parallel (see the package comment).
func Plan(ops []Op, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	seq, err := decompose(ops)
	if err != nil {
		return nil, err
	}
	p := &planner{ops: ops, cfg: cfg, L: max(cfg.MaxLevel, cfg.BootLevel), memo: map[*block][][]cost{}}
	// A fresh encryption may sit at any level ≤ MaxLevel: start at
	// MaxLevel, from which dropping is free.
	best, out := inf, -1
	for o, c := range p.seq(seq, cfg.MaxLevel) {
		if c.less(best) {
			best, out = c, o
		}
	}
	if !best.ok() {
		return nil, fmt.Errorf("%w: an operation needs more levels than a bootstrap gives (bootstrap level %d, max level %d)", ErrInfeasible, cfg.BootLevel, cfg.MaxLevel)
	}
	r := &Result{OutputLevel: out, Ops: make([]Placed, len(ops))}
	for i, op := range ops {
		r.Ops[i] = Placed{Name: op.Name, Level: -1, Depth: op.Depth}
	}
	p.res = r
	p.traceSeq(seq, cfg.MaxLevel, out)
	r.Predicted = best.lat
	// Encrypt at the highest level a first operation runs at, unless the
	// input itself is bootstrapped (only useful when BootLevel > MaxLevel).
	r.InputLevel = 0
	for i, op := range ops {
		for _, in := range op.Inputs {
			if in == Input {
				r.InputLevel = max(r.InputLevel, r.Ops[i].Level)
			}
		}
	}
	for _, b := range r.Bootstraps {
		if b.After == Input {
			r.InputLevel = cfg.MaxLevel
		}
	}
	return r, nil
}

func (cfg Config) check() error {
	switch {
	case cfg.MaxLevel < 0 || cfg.MaxLevel > 1000:
		return fmt.Errorf("levelplan: MaxLevel %d outside [0, 1000]", cfg.MaxLevel)
	case cfg.BootLevel < 0 || cfg.BootLevel > 1000:
		return fmt.Errorf("levelplan: BootLevel %d outside [0, 1000]", cfg.BootLevel)
	case cfg.MinBootLevel < 0:
		return fmt.Errorf("levelplan: negative MinBootLevel %d", cfg.MinBootLevel)
	case !(cfg.BootCost >= 0) || math.IsInf(cfg.BootCost, 0):
		return fmt.Errorf("levelplan: BootCost %v is not a finite non-negative number", cfg.BootCost)
	}
	return nil
}

// decompose turns the operation list into a sequence of blocks.
func decompose(ops []Op) ([]*block, error) {
	if len(ops) == 0 {
		return nil, fmt.Errorf("levelplan: empty network")
	}
	consumers := map[int][]int{}
	for i, op := range ops {
		if op.Depth < 0 {
			return nil, fmt.Errorf("levelplan: operation %d (%s) has negative depth %d", i, op.Name, op.Depth)
		}
		if len(op.Inputs) != 1 && len(op.Inputs) != 2 {
			return nil, fmt.Errorf("levelplan: operation %d (%s) has %d inputs (1 for a layer, 2 for a residual join)", i, op.Name, len(op.Inputs))
		}
		for _, in := range op.Inputs {
			if in < Input || in >= i {
				return nil, fmt.Errorf("levelplan: operation %d (%s) reads %d, which is not an earlier operation or the input", i, op.Name, in)
			}
			consumers[in] = append(consumers[in], i)
		}
		if len(op.Inputs) == 2 && op.Inputs[0] == op.Inputs[1] {
			// x + x: a join of two empty branches.
			consumers[op.Inputs[0]] = consumers[op.Inputs[0]][:len(consumers[op.Inputs[0]])-1]
		}
	}
	for i := range ops[:len(ops)-1] {
		if len(consumers[i]) == 0 {
			return nil, fmt.Errorf("levelplan: operation %d (%s) is unused; the last operation must be the only output", i, ops[i].Name)
		}
	}
	d := &decomposer{ops: ops, consumers: consumers}
	seq, end, err := d.chain(Input, -2)
	if err != nil {
		return nil, err
	}
	if end != len(ops)-1 {
		return nil, fmt.Errorf("levelplan: operations after %d are not reached from the input as a series-parallel network", end)
	}
	return seq, nil
}

type decomposer struct {
	ops       []Op
	consumers map[int][]int
}

// chain follows values from v until it reaches join (a two-input operation
// reached from outside the chain: returned, not consumed) or the sink. It
// returns the blocks and the last value produced.
func (d *decomposer) chain(v, join int) ([]*block, int, error) {
	var seq []*block
	for {
		cons := d.consumers[v]
		switch len(cons) {
		case 0:
			return seq, v, nil
		case 1:
			n := cons[0]
			if len(d.ops[n].Inputs) == 2 {
				if d.ops[n].Inputs[0] == d.ops[n].Inputs[1] { // x + x
					seq = append(seq, &block{op: n, from: v, res: true})
					v = n
					continue
				}
				return seq, v, errJoin{n}
			}
			seq = append(seq, &block{op: n, from: v})
			v = n
		case 2:
			var br [2][]*block
			joins := [2]int{-1, -1}
			for k, c := range cons {
				if len(d.ops[c].Inputs) == 2 { // empty branch: the shortcut
					joins[k] = c
					continue
				}
				b := &block{op: c, from: v}
				rest, _, err := d.chain(c, -2)
				var ej errJoin
				if !errors.As(err, &ej) {
					if err == nil {
						return nil, 0, fmt.Errorf("levelplan: the branch from operation %d (%s) never rejoins", c, d.ops[c].Name)
					}
					return nil, 0, err
				}
				br[k] = append([]*block{b}, rest...)
				joins[k] = ej.op
			}
			if joins[0] != joins[1] {
				return nil, 0, fmt.Errorf("levelplan: the branches leaving %s rejoin at different operations (%d, %d); only residual blocks are supported", d.name(v), joins[0], joins[1])
			}
			seq = append(seq, &block{op: joins[0], from: v, branch: br, res: true})
			v = joins[0]
		default:
			return nil, 0, fmt.Errorf("levelplan: %s feeds %d operations; at most 2 (a residual fork) are supported", d.name(v), len(cons))
		}
	}
}

func (d *decomposer) name(v int) string {
	if v == Input {
		return "the input"
	}
	return fmt.Sprintf("operation %d (%s)", v, d.ops[v].Name)
}

type errJoin struct{ op int }

func (e errJoin) Error() string {
	return fmt.Sprintf("levelplan: unexpected join at operation %d", e.op)
}

type planner struct {
	ops  []Op
	cfg  Config
	L    int
	memo map[*block][][]cost // block → [run level][out level]
	res  *Result
}

func (p *planner) opCost(op, level int) float64 {
	if p.cfg.OpCost == nil {
		return float64(level + 1)
	}
	return p.cfg.OpCost(op, level)
}

// adjust is the cost of bringing a value at level a to run level r:
// dropping is free; otherwise bootstrap (if allowed) then drop.
func (p *planner) adjust(a, r int) (cost, bool) {
	if r <= a {
		return cost{}, false
	}
	if a >= p.cfg.MinBootLevel && r <= p.cfg.BootLevel {
		return cost{1, p.cfg.BootCost}, true
	}
	return inf, false
}

// seq returns, for a value arriving at level a, the best cost of the
// sequence for each output level.
func (p *planner) seq(seq []*block, a int) []cost {
	rows := p.forward(seq, a)
	return rows[len(seq)]
}

// forward returns, for each prefix of seq (0…len(seq) blocks), the best
// cost of reaching each level from arrival level a.
func (p *planner) forward(seq []*block, a int) [][]cost {
	rows := make([][]cost, len(seq)+1)
	rows[0] = p.infRow()
	rows[0][a] = cost{}
	for i, b := range seq {
		t := p.table(b)
		next := p.infRow()
		for lv, c := range rows[i] {
			if !c.ok() {
				continue
			}
			for r := 0; r <= p.L; r++ {
				adj, _ := p.adjust(lv, r)
				if !adj.ok() {
					continue
				}
				base := c.add(adj)
				for o, bc := range t[r] {
					if nc := base.add(bc); nc.less(next[o]) {
						next[o] = nc
					}
				}
			}
		}
		rows[i+1] = next
	}
	return rows
}

func (p *planner) infRow() []cost {
	row := make([]cost, p.L+1)
	for i := range row {
		row[i] = inf
	}
	return row
}

// branch is seq followed by an optional bootstrap just before the join
// (rarely useful, but it keeps the search complete when the join or a
// minimum bootstrap level makes bootstrapping after the join impossible).
func (p *planner) branch(seq []*block, a int) []cost {
	row := p.seq(seq, a)
	out := make([]cost, len(row))
	for o := range out {
		out[o] = inf
		for lv, c := range row {
			if adj, _ := p.adjust(lv, o); adj.ok() {
				if nc := c.add(adj); nc.less(out[o]) {
					out[o] = nc
				}
			}
		}
	}
	return out
}

// traceBranch reconstructs branch k of residual block b from run level r
// to the level x it reaches the join at.
func (p *planner) traceBranch(b *block, k, r, x int) {
	seq := b.branch[k]
	row := p.seq(seq, r)
	want := p.branch(seq, r)[x]
	for lv, c := range row {
		adj, boot := p.adjust(lv, x)
		if !adj.ok() {
			continue
		}
		if nc := c.add(adj); !nc.less(want) && !want.less(nc) {
			if boot {
				last := b.from
				if len(seq) > 0 {
					last = seq[len(seq)-1].op
				}
				p.res.Bootstraps = append(p.res.Bootstraps, Bootstrap{After: last, Before: b.op})
			}
			p.traceSeq(seq, r, lv)
			return
		}
	}
}

// table returns the block's cost from run level r to output level o.
func (p *planner) table(b *block) [][]cost {
	if t, ok := p.memo[b]; ok {
		return t
	}
	t := make([][]cost, p.L+1)
	for r := range t {
		t[r] = make([]cost, p.L+1)
		for o := range t[r] {
			t[r][o] = inf
		}
		if !b.res {
			if d := p.ops[b.op].Depth; r >= d {
				t[r][r-d] = cost{0, p.opCost(b.op, r)}
			}
			continue
		}
		// Residual: both branches start from r; the join aligns them to
		// the lower output level, then runs at that level.
		ba, bb := p.branch(b.branch[0], r), p.branch(b.branch[1], r)
		d := p.ops[b.op].Depth
		for x, ca := range ba {
			if !ca.ok() {
				continue
			}
			for y, cb := range bb {
				if !cb.ok() {
					continue
				}
				j := min(x, y)
				if j < d {
					continue
				}
				c := ca.add(cb).add(cost{0, p.opCost(b.op, j)})
				if c.less(t[r][j-d]) {
					t[r][j-d] = c
				}
			}
		}
	}
	p.memo[b] = t
	return t
}

// traceSeq reconstructs the choices of seq from arrival level a to output
// level out, recording operation levels and bootstraps.
func (p *planner) traceSeq(seq []*block, a, out int) {
	if len(seq) == 0 {
		return
	}
	// Forward tables per prefix, then walk back.
	n := len(seq)
	cur := p.forward(seq, a)
	o := out
	for i := n - 1; i >= 0; i-- {
		b := seq[i]
		t := p.table(b)
		found := false
		for lv := 0; lv <= p.L && !found; lv++ {
			c := cur[i][lv]
			if !c.ok() {
				continue
			}
			for r := 0; r <= p.L; r++ {
				adj, boot := p.adjust(lv, r)
				if !adj.ok() {
					continue
				}
				if nc := c.add(adj).add(t[r][o]); nc.ok() && !cur[i+1][o].less(nc) && !nc.less(cur[i+1][o]) {
					if boot {
						before := b.op
						if b.res {
							before = -1 // before the fork: shared
						}
						p.res.Bootstraps = append(p.res.Bootstraps, Bootstrap{After: b.from, Before: before})
					}
					p.traceBlock(b, r, o)
					o = lv
					found = true
					break
				}
			}
		}
	}
}

// traceBlock records a block run at level r with output level o.
func (p *planner) traceBlock(b *block, r, o int) {
	d := p.ops[b.op].Depth
	if !b.res {
		p.place(b.op, r)
		return
	}
	ba, bb := p.branch(b.branch[0], r), p.branch(b.branch[1], r)
	want := p.table(b)[r][o]
	for x, ca := range ba {
		for y, cb := range bb {
			j := min(x, y)
			if !ca.ok() || !cb.ok() || j < d || j-d != o {
				continue
			}
			c := ca.add(cb).add(cost{0, p.opCost(b.op, j)})
			if !c.less(want) && !want.less(c) {
				p.traceBranch(b, 0, r, x)
				p.traceBranch(b, 1, r, y)
				p.place(b.op, j)
				return
			}
		}
	}
}

func (p *planner) place(op, level int) {
	p.res.Ops[op].Level = level
	p.res.Ops[op].Cost = p.opCost(op, level)
}

// String formats the plan as the table `krelu inspect` prints.
func (r *Result) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "level plan: encrypt at level %d, %d bootstrap(s), predicted %.4g, output at level %d\n",
		r.InputLevel, r.NumBootstraps(), r.Predicted, r.OutputLevel)
	boots := map[int][]Bootstrap{}
	for _, b := range r.Bootstraps {
		boots[b.After] = append(boots[b.After], b)
	}
	line := func(after int) {
		for _, b := range boots[after] {
			if b.Before < 0 {
				fmt.Fprintf(&sb, "  ── bootstrap (shared by the residual branches)\n")
			} else {
				fmt.Fprintf(&sb, "  ── bootstrap (before %s)\n", r.Ops[b.Before].Name)
			}
		}
	}
	line(Input)
	fmt.Fprintf(&sb, "  %-4s %-28s %5s %5s %10s\n", "#", "operation", "level", "depth", "cost")
	for i, op := range r.Ops {
		fmt.Fprintf(&sb, "  %-4d %-28s %5d %5d %10.4g\n", i, op.Name, op.Level, op.Depth, op.Cost)
		line(i)
	}
	return sb.String()
}
