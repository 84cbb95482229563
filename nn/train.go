package nn

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/krelu/krelu/optim"
	"gonum.org/v1/gonum/mat"
)

// SoftmaxCrossEntropy returns the mean cross-entropy of logits against
// labels and its gradient with respect to the logits.
func SoftmaxCrossEntropy(logits *mat.Dense, labels []int) (float64, *mat.Dense) {
	n, k := logits.Dims()
	g := mat.NewDense(n, k, nil)
	var loss float64
	for i := 0; i < n; i++ {
		row, gr := logits.RawRowView(i), g.RawRowView(i)
		m := row[0]
		for _, v := range row {
			m = math.Max(m, v)
		}
		var s float64
		for j, v := range row {
			gr[j] = math.Exp(v - m)
			s += gr[j]
		}
		loss += math.Log(s) + m - row[labels[i]]
		for j := range gr {
			gr[j] /= s * float64(n)
		}
		gr[labels[i]] -= 1 / float64(n)
	}
	return loss / float64(n), g
}

// TrainConfig controls Train. Zero fields take the defaults noted.
type TrainConfig struct {
	Epochs    int     // default 10
	BatchSize int     // default 128
	LR        float64 // Adam step, default 1e-3
	Seed      uint64  // shuffling seed
	// Patience stops training after this many epochs without a better
	// validation accuracy (0: never stop early). The best weights are kept.
	Patience int
	// ClipNorm rescales the gradient to this global L2 norm when larger
	// (0: no clipping).
	ClipNorm float64
	// LRDecay multiplies the learning rate after every epoch (0 or 1: constant).
	// It is ignored when Schedule is "cosine".
	LRDecay float64
	// Schedule is "" (constant, times LRDecay per epoch) or "cosine": the
	// rate falls from LR to 0 along half a cosine over Epochs·batches steps
	// (Loshchilov & Hutter, SGDR, 2017, without restarts). Early stopping
	// cuts a cosine schedule short, so pair it with Patience 0.
	Schedule string
	// WeightDecay is decoupled weight decay (AdamW, Loshchilov & Hutter
	// 2019): each step multiplies weights — not biases — by 1 − lr·WeightDecay.
	WeightDecay float64
	// Shift, when positive, augments every training sample by a random
	// translation of dx, dy ∈ [−Shift, Shift] pixels (zero fill), drawn
	// from a seeded stream separate from shuffling. Inputs must be square
	// single-channel images of ImageSide² pixels.
	Shift int
	// ImageSide is the image width = height for Shift (0: √InputDim).
	ImageSide int
	// Progress receives a one-line progress bar (nil: silent).
	Progress io.Writer
}

// EpochStats summarises one epoch.
type EpochStats struct {
	Epoch             int
	Loss, TrainAcc    float64
	ValLoss, ValAcc   float64
	Seconds           float64
	Best, StoppedHere bool
}

// Train fits n to (x, y) with Adam, validating on (vx, vy) after each epoch.
// It returns the per-epoch statistics; n holds the weights of the epoch
// with the best validation accuracy.
func (n *Network) Train(x *mat.Dense, y []int, vx *mat.Dense, vy []int, cfg TrainConfig) ([]EpochStats, error) {
	if err := n.checkSet(x, y); err != nil {
		return nil, fmt.Errorf("training set: %w", err)
	}
	if err := n.checkSet(vx, vy); err != nil {
		return nil, fmt.Errorf("validation set: %w", err)
	}
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	tr, err := n.newTrainer(x, y, cfg)
	if err != nil {
		return nil, err
	}
	ps := n.Params()
	best := math.Inf(-1)
	var bestW [][]float64
	since := 0
	var stats []EpochStats
	for ep := 1; ep <= cfg.Epochs; ep++ {
		t0 := time.Now()
		st, err := tr.epoch(ep)
		if err != nil {
			return stats, err
		}
		vl, err := n.Logits(vx)
		if err != nil {
			return stats, err
		}
		st.ValLoss, _ = SoftmaxCrossEntropy(vl, vy)
		st.ValAcc = Accuracy(Argmax(vl), vy)
		st.Seconds = time.Since(t0).Seconds()
		if st.ValAcc > best {
			best, since, st.Best = st.ValAcc, 0, true
			bestW = bestW[:0]
			for _, p := range ps {
				bestW = append(bestW, append([]float64(nil), p.Value...))
			}
		} else {
			since++
		}
		if cfg.LRDecay > 0 && cfg.Schedule != "cosine" {
			tr.opt.LR *= cfg.LRDecay
		}
		tr.bar.epochDone(st)
		stats = append(stats, st)
		if cfg.Patience > 0 && since >= cfg.Patience {
			stats[len(stats)-1].StoppedHere = true
			break
		}
	}
	tr.bar.done()
	for i, p := range ps {
		copy(p.Value, bestW[i])
	}
	return stats, nil
}

// setDefaults fills in the documented defaults and rejects what no
// default can mend.
func (cfg *TrainConfig) setDefaults() error {
	if cfg.Epochs <= 0 {
		cfg.Epochs = 10
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 128
	}
	if cfg.LR <= 0 {
		cfg.LR = 1e-3
	}
	switch cfg.Schedule {
	case "", "constant", "cosine":
	default:
		return fmt.Errorf("nn: unknown learning-rate schedule %q (want constant or cosine)", cfg.Schedule)
	}
	if cfg.WeightDecay < 0 {
		return fmt.Errorf("nn: negative weight decay %v", cfg.WeightDecay)
	}
	return nil
}

// trainer holds the state of one Train call that lives across epochs: the
// shuffling stream, the optimiser and its step count, the batch buffer.
type trainer struct {
	n                *Network
	x                *mat.Dense
	y                []int
	cfg              TrainConfig
	aug              *Shifter // nil without shift augmentation
	rng              *rand.Rand
	perm             []int
	opt              *optim.Adam
	ts               []optim.Tensor
	xb               *mat.Dense
	bar              *progress
	step, totalSteps int
}

func (n *Network) newTrainer(x *mat.Dense, y []int, cfg TrainConfig) (*trainer, error) {
	tr := &trainer{n: n, x: x, y: y, cfg: cfg}
	if cfg.Shift != 0 {
		var err error
		if tr.aug, err = NewShifter(n.InputDim, cfg.ImageSide, cfg.Shift, cfg.Seed); err != nil {
			return nil, err
		}
	}
	rows, _ := x.Dims()
	tr.rng = rand.New(rand.NewPCG(cfg.Seed, 0x73687566))
	tr.perm = make([]int, rows)
	for i := range tr.perm {
		tr.perm[i] = i
	}
	tr.opt = optim.NewAdam(cfg.LR)
	tr.opt.Clip = cfg.ClipNorm
	tr.opt.WeightDecay = cfg.WeightDecay
	tr.ts = adamTensors(n.Params())
	batches := (rows + cfg.BatchSize - 1) / cfg.BatchSize
	tr.totalSteps = cfg.Epochs * batches
	tr.bar = &progress{w: cfg.Progress, epochs: cfg.Epochs, batches: batches, start: time.Now()}
	tr.xb = mat.NewDense(cfg.BatchSize, n.InputDim, nil)
	return tr, nil
}

// epoch makes one shuffled pass over the training set, one Adam step per
// mini-batch, and returns the training loss and accuracy seen on the way.
func (tr *trainer) epoch(ep int) (EpochStats, error) {
	n, cfg := tr.n, tr.cfg
	rows := len(tr.perm)
	tr.rng.Shuffle(rows, func(i, j int) { tr.perm[i], tr.perm[j] = tr.perm[j], tr.perm[i] })
	var sumLoss float64
	correct := 0
	for b, i := 0, 0; i < rows; b, i = b+1, i+cfg.BatchSize {
		j := min(i+cfg.BatchSize, rows)
		xs := tr.xb.Slice(0, j-i, 0, n.InputDim).(*mat.Dense)
		ys := make([]int, j-i)
		for k := i; k < j; k++ {
			if tr.aug != nil {
				tr.aug.Apply(xs.RawRowView(k-i), tr.x.RawRowView(tr.perm[k]))
			} else {
				copy(xs.RawRowView(k-i), tr.x.RawRowView(tr.perm[k]))
			}
			ys[k-i] = tr.y[tr.perm[k]]
		}
		if cfg.Schedule == "cosine" {
			tr.opt.LR = cfg.LR * 0.5 * (1 + math.Cos(math.Pi*float64(tr.step)/float64(tr.totalSteps)))
		}
		tr.step++
		n.zeroGrad()
		logits := n.Forward(xs)
		loss, g := SoftmaxCrossEntropy(logits, ys)
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			tr.bar.done()
			return EpochStats{}, fmt.Errorf("nn: loss diverged (%v) in epoch %d batch %d; try a smaller --lr or --clip", loss, ep, b)
		}
		for k, p := range Argmax(logits) {
			if p == ys[k] {
				correct++
			}
		}
		sumLoss += loss * float64(j-i)
		n.backward(g)
		tr.opt.Step(tr.ts, 1)
		tr.bar.update(ep, b+1, sumLoss/float64(j), float64(correct)/float64(j))
	}
	return EpochStats{Epoch: ep, Loss: sumLoss / float64(rows), TrainAcc: float64(correct) / float64(rows)}, nil
}

func (n *Network) checkSet(x *mat.Dense, y []int) error {
	if x == nil {
		return errors.New("nn: no data")
	}
	if err := n.CheckInput(x); err != nil {
		return err
	}
	r, _ := x.Dims()
	if r != len(y) {
		return fmt.Errorf("nn: %d samples but %d labels", r, len(y))
	}
	k := n.Classes()
	for i, l := range y {
		if l < 0 || l >= k {
			return fmt.Errorf("nn: label %d of sample %d out of range [0, %d)", l, i, k)
		}
	}
	return nil
}

// adamTensors presents ps to the optimiser. Only weight matrices and
// convolution kernels are decayed (AdamW): biases are not.
func adamTensors(ps []*Param) []optim.Tensor {
	ts := make([]optim.Tensor, len(ps))
	for k, p := range ps {
		ts[k] = optim.Tensor{Value: p.Value, Grad: p.Grad, NoDecay: p.Name != "W" && p.Name != "kernel"}
	}
	return ts
}

// progress draws "epoch 2/10 [=====>    ] loss 0.1234 acc 96.10% ETA 12s".
type progress struct {
	w               io.Writer
	epochs, batches int
	start, lastDraw time.Time
	steps           int
}

func (p *progress) update(ep, b int, loss, acc float64) {
	if p.w == nil {
		return
	}
	p.steps++
	if time.Since(p.lastDraw) < 200*time.Millisecond && b != p.batches {
		return
	}
	p.lastDraw = time.Now()
	const width = 24
	fill := width * b / p.batches
	total := p.epochs * p.batches
	eta := time.Duration(float64(time.Since(p.start)) / float64(p.steps) * float64(total-p.steps)).Round(time.Second)
	fmt.Fprintf(p.w, "\repoch %d/%d [%s%s] loss %.4f acc %.2f%% ETA %v   ",
		ep, p.epochs, strings.Repeat("=", fill), strings.Repeat(" ", width-fill), loss, 100*acc, eta)
}

func (p *progress) epochDone(s EpochStats) {
	if p.w == nil {
		return
	}
	mark := ""
	if s.Best {
		mark = " *"
	}
	fmt.Fprintf(p.w, "\repoch %d/%d loss %.4f acc %.2f%% val_loss %.4f val_acc %.2f%% %.1fs%s%s\n",
		s.Epoch, p.epochs, s.Loss, 100*s.TrainAcc, s.ValLoss, 100*s.ValAcc, s.Seconds, mark, strings.Repeat(" ", 20))
}

func (p *progress) done() {}
