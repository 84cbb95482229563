package transformer

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/krelu/krelu/internal/logits"
	"github.com/krelu/krelu/optim"
	"gonum.org/v1/gonum/mat"
)

// TrainOptions control Train.
type TrainOptions struct {
	Epochs int
	Batch  int
	LR     float64
	// Clip is the global gradient-norm clip (0: none).
	Clip float64
	// Decay lowers the learning rate linearly to zero over the run, which
	// removes most of the epoch-to-epoch noise of the final model.
	Decay bool
	// PerEpoch, if positive, is the number of training sentences drawn
	// (without replacement, reshuffled each epoch) per epoch, to fit the
	// CPU budget.
	PerEpoch int
	Seed     uint64
	// TeacherLogits, if not nil, are a teacher model's logits for every
	// training sentence (in the order of the training set): the loss is
	// then DistillLoss's mix of cross-entropy and distillation, with
	// DistillWeight in [0, 1] and temperature DistillTemp > 0.
	TeacherLogits              [][]float64
	DistillWeight, DistillTemp float64
	// Log, if not nil, receives one line per epoch.
	Log io.Writer
}

// EpochStats summarises one epoch.
type EpochStats struct {
	Epoch    int
	Loss     float64
	TrainAcc float64
	DevAcc   float64 // NaN without a dev set
	Elapsed  time.Duration
}

// Train fits m to train with Adam; dev, if not nil, is evaluated after each
// epoch. A non-finite loss stops training with an error.
func Train(m *Model, train, dev *Dataset, opt TrainOptions) ([]EpochStats, error) {
	if m.LearnRows != nil && len(m.LearnRows) != m.Cfg.Vocab {
		return nil, fmt.Errorf("transformer: %d learnable-row flags for %d words", len(m.LearnRows), m.Cfg.Vocab)
	}
	if train == nil || len(train.IDs) == 0 {
		return nil, errors.New("transformer: empty training set")
	}
	if opt.Epochs < 1 || opt.Batch < 1 || !(opt.LR > 0) {
		return nil, fmt.Errorf("transformer: training needs epochs ≥ 1, batch ≥ 1 and a learning rate > 0; have epochs %d, batch %d, learning rate %g", opt.Epochs, opt.Batch, opt.LR)
	}
	if opt.TeacherLogits != nil {
		if len(opt.TeacherLogits) != len(train.IDs) {
			return nil, fmt.Errorf("transformer: %d teacher logit rows for %d training sentences", len(opt.TeacherLogits), len(train.IDs))
		}
		if !(opt.DistillWeight >= 0 && opt.DistillWeight <= 1) || !(opt.DistillTemp > 0) || math.IsInf(opt.DistillTemp, 0) {
			return nil, fmt.Errorf("transformer: distillation weight %v (want [0, 1]) and temperature %v (want a finite value > 0)", opt.DistillWeight, opt.DistillTemp)
		}
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	adam := optim.NewAdam(opt.LR)
	adam.Clip = opt.Clip
	ts := m.adamTensors()
	perEpoch := len(train.IDs)
	if opt.PerEpoch > 0 && opt.PerEpoch < perEpoch {
		perEpoch = opt.PerEpoch
	}
	totalSteps := opt.Epochs * ((perEpoch + opt.Batch - 1) / opt.Batch)
	step := 0
	var hist []EpochStats
	for ep := 1; ep <= opt.Epochs; ep++ {
		start := time.Now()
		order := rng.Perm(len(train.IDs))
		if opt.PerEpoch > 0 && opt.PerEpoch < len(order) {
			order = order[:opt.PerEpoch]
		}
		var sum float64
		correct := 0
		m.ZeroGrad()
		inBatch := 0
		for i, k := range order {
			var loss float64
			var p []float64
			var err error
			if opt.TeacherLogits != nil {
				loss, p, err = m.DistillLoss(train.IDs[k], train.Labels[k], opt.TeacherLogits[k], opt.DistillWeight, opt.DistillTemp, true)
			} else {
				loss, p, err = m.Loss(train.IDs[k], train.Labels[k], true)
			}
			if err != nil {
				return hist, fmt.Errorf("training sentence %d: %w", k, err)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				return hist, fmt.Errorf("transformer: loss became %v at epoch %d step %d (activation %v diverged; try a lower learning rate or clipping)", loss, ep, i, m.Act)
			}
			sum += loss
			if logits.Argmax(p) == train.Labels[k] {
				correct++
			}
			inBatch++
			if inBatch == opt.Batch || i == len(order)-1 {
				if opt.Decay {
					adam.LR = opt.LR * (1 - float64(step)/float64(totalSteps))
				}
				step++
				adam.Step(ts, 1/float64(inBatch))
				m.ZeroGrad()
				inBatch = 0
			}
		}
		st := EpochStats{Epoch: ep, Loss: sum / float64(len(order)), TrainAcc: float64(correct) / float64(len(order)), DevAcc: math.NaN()}
		if dev != nil {
			acc, _, err := Evaluate(m, dev)
			if err != nil {
				return hist, err
			}
			st.DevAcc = acc
		}
		st.Elapsed = time.Since(start)
		hist = append(hist, st)
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, "epoch %d: loss %.4f train acc %.4f dev acc %.4f (%.1fs)\n", ep, st.Loss, st.TrainAcc, st.DevAcc, st.Elapsed.Seconds())
		}
	}
	return hist, nil
}

// adamTensors presents the parameters to the optimiser. A frozen
// pre-trained embedding is skipped outright; one with a few learnable rows
// (out-of-vocabulary words) is updated in those rows only.
func (m *Model) adamTensors() []optim.Tensor {
	ps := m.Params()
	ts := make([]optim.Tensor, len(ps))
	for k, p := range ps {
		ts[k] = optim.Tensor{Value: p.W, Grad: p.G}
		if p == m.Emb {
			ts[k].Frozen = !m.embTrained()
			if !m.TrainEmb {
				ts[k].Rows = m.LearnRows
			}
		}
	}
	return ts
}

// Evaluate returns the accuracy of m on ds and its predictions.
func Evaluate(m *Model, ds *Dataset) (float64, []int, error) {
	if ds == nil || len(ds.IDs) == 0 {
		return 0, nil, errors.New("transformer: empty evaluation set")
	}
	preds := make([]int, len(ds.IDs))
	correct := 0
	for i, ids := range ds.IDs {
		c, _, err := m.Predict(ids)
		if err != nil {
			return 0, nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		preds[i] = c
		if c == ds.Labels[i] {
			correct++
		}
	}
	return float64(correct) / float64(len(ds.IDs)), preds, nil
}

// Agreement returns the fraction of equal entries of a and b.
func Agreement(a, b []int) (float64, error) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, fmt.Errorf("transformer: agreement of %d and %d predictions", len(a), len(b))
	}
	n := 0
	for i := range a {
		if a[i] == b[i] {
			n++
		}
	}
	return float64(n) / float64(len(a)), nil
}

// PreActivations runs m on ds and returns the FFN pre-activations of layer
// (all tokens × hidden units), stopping once at least max values are
// collected (0: no limit).
func PreActivations(m *Model, ds *Dataset, layer, max int) ([]float64, error) {
	if layer < 0 || layer >= len(m.Blocks) {
		return nil, fmt.Errorf("transformer: layer %d outside [0, %d)", layer, len(m.Blocks))
	}
	var out []float64
	old := m.Hook
	defer func() { m.Hook = old }()
	m.Hook = func(l int, u *mat.Dense) {
		if l == layer {
			out = append(out, u.RawMatrix().Data...)
		}
	}
	for i, ids := range ds.IDs {
		if _, err := m.Forward(ids); err != nil {
			return nil, fmt.Errorf("sentence %d: %w", i, err)
		}
		if max > 0 && len(out) >= max {
			break
		}
	}
	return out, nil
}

// Quantile returns the q-quantile of xs (nearest rank on a sorted copy).
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Round(q * float64(len(s)-1)))
	return s[max(0, min(len(s)-1, i))]
}
