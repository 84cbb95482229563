package transformer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/krelu/krelu/internal/logits"
	"gonum.org/v1/gonum/mat"
)

// Config is the shape of a model.
type Config struct {
	Vocab   int // vocabulary size, UNK included
	EmbDim  int // embedding dimension (100 for GloVe)
	Dim     int // model dimension d
	Heads   int // attention heads; must divide Dim
	Hidden  int // FFN hidden width
	Layers  int // encoder layers
	MaxLen  int // longest input (learned positions)
	Classes int
	// HEFriendly selects the HE-friendly encoder, polynomial after the
	// embedding lookup (the form of henn.Encoder): 2Quad attention with
	// the fixed normaliser n·c² instead of softmax, and an affine
	// normalisation (centring, per-feature scale and shift) instead of
	// LayerNorm. Files written before it existed load as false.
	HEFriendly bool
	// QuadShift is c in the 2Quad attention weight (s + c)²/(n·c²);
	// required > 0 with HEFriendly, 0 otherwise.
	QuadShift float64
}

// Validate reports a malformed configuration.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 1, c.EmbDim < 1, c.Dim < 1, c.Hidden < 1, c.MaxLen < 1:
		return fmt.Errorf("transformer: sizes must be positive: vocabulary %d, embedding %d, dimension %d, hidden %d, max length %d", c.Vocab, c.EmbDim, c.Dim, c.Hidden, c.MaxLen)
	case c.Heads < 1 || c.Dim%c.Heads != 0:
		return fmt.Errorf("transformer: %d heads do not divide dimension %d", c.Heads, c.Dim)
	case c.Layers < 1 || c.Layers > 8:
		return fmt.Errorf("transformer: %d layers, want 1..8", c.Layers)
	case c.Classes < 2:
		return fmt.Errorf("transformer: %d classes, want ≥ 2", c.Classes)
	case c.HEFriendly && (!(c.QuadShift > 0) || math.IsInf(c.QuadShift, 0)):
		return fmt.Errorf("transformer: attention shift c = %v, want a finite value > 0", c.QuadShift)
	case !c.HEFriendly && c.QuadShift != 0:
		return fmt.Errorf("transformer: attention shift c = %v set on a softmax model (only the HE-friendly model has one)", c.QuadShift)
	}
	return nil
}

// Block is one encoder layer: h = LN(x + MHA(x)); y = h + FFN(h). In the
// HE-friendly model MHA is the 2Quad attention (Attention.Quad) and LN the
// affine normalisation (LayerNorm.Affine).
type Block struct {
	Attn Attention
	LN   LayerNorm
	FFN  FFN
}

// Model is the encoder classifier described in the package comment.
type Model struct {
	Cfg Config
	Act Activation
	// Emb is the Vocab×EmbDim token embedding; row UNK is the unknown word.
	Emb *Param
	// TrainEmb lets training update Emb; by default the GloVe vectors stay
	// fixed and the projection Proj learns to use them.
	TrainEmb bool
	// LearnRows, if not nil, marks rows of Emb that training updates even
	// when TrainEmb is false: words with no pre-trained vector (in the
	// wink GloVe package these include "a", "'s" and "n't").
	LearnRows []bool
	Proj      Linear
	Pos       *Param // MaxLen×Dim learned positions
	Blocks    []Block
	Cls       Linear
	// Hook, if not nil, is called during Forward with each layer's FFN
	// pre-activations (tokens × Hidden), e.g. to collect calibration data.
	Hook func(layer int, u *mat.Dense)
}

// New returns a randomly initialised model with activation act.
func New(cfg Config, act Activation, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(0, 0))
	}
	m := &Model{Cfg: cfg, Act: act,
		Emb:  newParam("emb", cfg.Vocab, cfg.EmbDim),
		Proj: newLinear("proj", cfg.EmbDim, cfg.Dim, rng),
		Pos:  newParam("pos", cfg.MaxLen, cfg.Dim),
		Cls:  newLinear("cls", cfg.Dim, cfg.Classes, rng),
	}
	for i := range m.Emb.W {
		m.Emb.W[i] = 0.1 * rng.NormFloat64()
	}
	clear(m.Emb.W[:cfg.EmbDim]) // UNK starts at zero
	for i := range m.Pos.W {
		m.Pos.W[i] = 0.02 * rng.NormFloat64()
	}
	for l := 0; l < cfg.Layers; l++ {
		name := fmt.Sprintf("l%d", l)
		b := Block{
			Attn: newAttention(name+".attn", cfg.Dim, cfg.Heads, rng),
			LN:   newLayerNorm(name+".ln", cfg.Dim),
			FFN:  FFN{In: newLinear(name+".ffn1", cfg.Dim, cfg.Hidden, rng), Out: newLinear(name+".ffn2", cfg.Hidden, cfg.Dim, rng)},
		}
		if cfg.HEFriendly {
			b.Attn.Quad = cfg.QuadShift
			b.LN.Affine = true
		}
		m.Blocks = append(m.Blocks, b)
	}
	return m, nil
}

// SetEmbeddings copies pre-trained vectors into the rows of Emb: vecs[w]
// for each vocabulary word w present. It returns how many rows were set.
func (m *Model) SetEmbeddings(v *Vocab, vecs map[string][]float64) (int, error) {
	if v.Len() != m.Cfg.Vocab {
		return 0, fmt.Errorf("transformer: vocabulary has %d words, model %d", v.Len(), m.Cfg.Vocab)
	}
	n := 0
	for i, w := range v.Words {
		vec, ok := vecs[w]
		if !ok {
			continue
		}
		if len(vec) != m.Cfg.EmbDim {
			return n, fmt.Errorf("transformer: vector of %q has %d dims, model %d", w, len(vec), m.Cfg.EmbDim)
		}
		copy(m.Emb.W[i*m.Cfg.EmbDim:(i+1)*m.Cfg.EmbDim], vec)
		n++
	}
	return n, nil
}

// embTrained reports whether training changes any row of Emb.
func (m *Model) embTrained() bool {
	if m.TrainEmb {
		return true
	}
	for _, b := range m.LearnRows {
		if b {
			return true
		}
	}
	return false
}

// Params returns every parameter, in a fixed order.
func (m *Model) Params() []*Param {
	ps := []*Param{m.Emb}
	ps = append(ps, m.Proj.params()...)
	ps = append(ps, m.Pos)
	for _, b := range m.Blocks {
		ps = append(ps, b.Attn.params()...)
		ps = append(ps, b.LN.params()...)
		ps = append(ps, b.FFN.params()...)
	}
	return append(ps, m.Cls.params()...)
}

// ZeroGrad clears all gradients.
func (m *Model) ZeroGrad() {
	for _, p := range m.Params() {
		p.ZeroGrad()
	}
}

// Cache holds the activations of one forward pass for Backward.
type Cache struct {
	ids    []int
	emb    *mat.Dense
	blocks []blockCache
	last   *mat.Dense // output of the last block
	pooled []float64
	Logits []float64
}

type blockCache struct {
	attn attnCache
	ln   lnCache
	h    *mat.Dense // LN output, the FFN input
	ffn  ffnCache
}

// ErrEmptyInput is returned by Forward for a sentence of no tokens.
var ErrEmptyInput = errors.New("transformer: empty input")

func (m *Model) checkIDs(ids []int) error {
	if len(ids) == 0 {
		return ErrEmptyInput
	}
	if len(ids) > m.Cfg.MaxLen {
		return fmt.Errorf("transformer: %d tokens exceed the model's maximum length %d", len(ids), m.Cfg.MaxLen)
	}
	for _, id := range ids {
		if id < 0 || id >= m.Cfg.Vocab {
			return fmt.Errorf("transformer: token id %d outside vocabulary [0, %d)", id, m.Cfg.Vocab)
		}
	}
	return nil
}

// embed returns the gathered embedding rows E[ids] and the model input
// E[ids]·P + b + pos.
func (m *Model) embed(ids []int) (emb, x *mat.Dense) {
	t, de := len(ids), m.Cfg.EmbDim
	emb = mat.NewDense(t, de, nil)
	for i, id := range ids {
		copy(emb.RawRowView(i), m.Emb.W[id*de:(id+1)*de])
	}
	x = m.Proj.Forward(emb)
	for i := 0; i < t; i++ {
		r := x.RawRowView(i)
		for j, p := range m.Pos.W[i*m.Cfg.Dim : (i+1)*m.Cfg.Dim] {
			r[j] += p
		}
	}
	return emb, x
}

// Forward runs the model on token ids and returns the cache (whose Logits
// are the class scores).
func (m *Model) Forward(ids []int) (*Cache, error) {
	if err := m.checkIDs(ids); err != nil {
		return nil, err
	}
	c := &Cache{ids: ids}
	var x *mat.Dense
	c.emb, x = m.embed(ids)
	for l, b := range m.Blocks {
		var bc blockCache
		var a *mat.Dense
		a, bc.attn = b.Attn.Forward(x)
		a.Add(a, x)
		bc.h, bc.ln = b.LN.Forward(a)
		var hook func(*mat.Dense)
		if m.Hook != nil {
			hook = func(u *mat.Dense) { m.Hook(l, u) }
		}
		var f *mat.Dense
		f, bc.ffn = b.FFN.Forward(bc.h, m.Act, hook)
		f.Add(f, bc.h)
		x = f
		c.blocks = append(c.blocks, bc)
	}
	c.last = x
	c.pooled = MeanPool(x)
	c.Logits = m.Cls.Forward(mat.NewDense(1, m.Cfg.Dim, c.pooled)).RawRowView(0)
	return c, nil
}

// FFNInput returns the token representations entering the last layer's
// FFN (tokens × Dim): what a client encrypts for the encrypted tail.
func (c *Cache) FFNInput() *mat.Dense { return c.blocks[len(c.blocks)-1].h }

// Backward accumulates the gradients of a loss whose gradient with respect
// to the logits is dlogits.
func (m *Model) Backward(c *Cache, dlogits []float64) {
	t := len(c.ids)
	dp := m.Cls.Backward(mat.NewDense(1, m.Cfg.Dim, c.pooled), mat.NewDense(1, len(dlogits), dlogits))
	dx := MeanPoolBackward(dp.RawRowView(0), t)
	for l := len(m.Blocks) - 1; l >= 0; l-- {
		b, bc := m.Blocks[l], c.blocks[l]
		// y = h + FFN(h)
		dh := b.FFN.Backward(bc.ffn, m.Act, dx)
		dh.Add(dh, dx)
		// h = LN(x + A(x))
		da := b.LN.Backward(bc.ln, dh)
		dx = b.Attn.Backward(bc.attn, da)
		dx.Add(dx, da)
	}
	for i := 0; i < t; i++ {
		for j, v := range dx.RawRowView(i) {
			m.Pos.G[i*m.Cfg.Dim+j] += v
		}
	}
	demb := m.Proj.Backward(c.emb, dx)
	if m.TrainEmb || m.LearnRows != nil {
		de := m.Cfg.EmbDim
		for i, id := range c.ids {
			if !m.TrainEmb && !m.LearnRows[id] {
				continue
			}
			g := m.Emb.G[id*de : (id+1)*de]
			for j, v := range demb.RawRowView(i) {
				g[j] += v
			}
		}
	}
}

// Loss runs Forward and returns the softmax cross-entropy of label, the
// class probabilities and the cache; with backward it also accumulates the
// gradients.
func (m *Model) Loss(ids []int, label int, backward bool) (float64, []float64, error) {
	if label < 0 || label >= m.Cfg.Classes {
		return 0, nil, fmt.Errorf("transformer: label %d outside [0, %d)", label, m.Cfg.Classes)
	}
	c, err := m.Forward(ids)
	if err != nil {
		return 0, nil, err
	}
	p := append([]float64(nil), c.Logits...)
	logits.Softmax(p)
	loss := -math.Log(math.Max(p[label], 1e-300))
	if backward {
		d := append([]float64(nil), p...)
		d[label]--
		m.Backward(c, d)
	}
	return loss, p, nil
}

// DistillLoss is Loss for knowledge distillation (Hinton, Vinyals and
// Dean, "Distilling the Knowledge in a Neural Network", arXiv:1503.02531):
// (1−w)·CE(label) + w·T²·KL(softmax(teacher/T) ‖ softmax(logits/T)), the
// T² keeping the soft term's gradient on the scale of the hard one. It
// returns the loss, the class probabilities (at temperature 1) and, with
// backward, accumulates the gradients.
func (m *Model) DistillLoss(ids []int, label int, teacher []float64, w, temp float64, backward bool) (float64, []float64, error) {
	if label < 0 || label >= m.Cfg.Classes {
		return 0, nil, fmt.Errorf("transformer: label %d outside [0, %d)", label, m.Cfg.Classes)
	}
	if len(teacher) != m.Cfg.Classes {
		return 0, nil, fmt.Errorf("transformer: %d teacher logits for %d classes", len(teacher), m.Cfg.Classes)
	}
	c, err := m.Forward(ids)
	if err != nil {
		return 0, nil, err
	}
	p := append([]float64(nil), c.Logits...)
	logits.Softmax(p)
	soft := func(z []float64) []float64 {
		out := make([]float64, len(z))
		for i, v := range z {
			out[i] = v / temp
		}
		logits.Softmax(out)
		return out
	}
	ps, pt := soft(c.Logits), soft(teacher)
	var kl float64
	for i := range pt {
		if pt[i] > 0 {
			kl += pt[i] * (math.Log(pt[i]) - math.Log(math.Max(ps[i], 1e-300)))
		}
	}
	loss := (1-w)*-math.Log(math.Max(p[label], 1e-300)) + w*temp*temp*kl
	if backward {
		d := make([]float64, len(p))
		for i := range d {
			d[i] = (1-w)*p[i] + w*temp*(ps[i]-pt[i])
		}
		d[label] -= 1 - w
		m.Backward(c, d)
	}
	return loss, p, nil
}

// Predict returns the arg-max class and the logits.
func (m *Model) Predict(ids []int) (int, []float64, error) {
	c, err := m.Forward(ids)
	if err != nil {
		return 0, nil, err
	}
	return logits.Argmax(c.Logits), c.Logits, nil
}
