package henn

import (
	"errors"
	"fmt"
	"math"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Client holds the secret key (inside an he.KeyOwner): it encrypts inputs,
// makes the public evaluation keys a [Server] needs, and decrypts logits.
type Client struct {
	owner *he.KeyOwner
}

// NewClient generates a fresh key pair for params (use [Model.Params]).
func NewClient(params ckks.Parameters) (*Client, error) {
	o, err := he.NewKeyOwner(params)
	if err != nil {
		return nil, err
	}
	return &Client{owner: o}, nil
}

// Params returns the client's parameters.
func (c *Client) Params() ckks.Parameters { return c.owner.Params() }

// EvaluationKeys returns the relinearization key and the Galois keys for
// rotations (use [Model.Rotations]); this is all a server receives.
func (c *Client) EvaluationKeys(rotations []int) (*he.EvaluationKeys, error) {
	return c.owner.EvaluationKeys(rotations...)
}

func (c *Client) checkLayout(l Layout) error {
	p := c.owner.Params()
	if !l.Params.Equal(&p) {
		return fmt.Errorf("henn: layout is for other parameters (LogN %d, %d levels) than the client's (LogN %d, %d levels)",
			l.Params.LogN(), l.Params.MaxLevel(), p.LogN(), p.MaxLevel())
	}
	return nil
}

// EncryptBatch encrypts inputs (each of l.InputDim features) in the Packed
// or Slots layout. Packed: groups of l.Stride inputs per ciphertext. Slots:
// groups of up to l.Stride inputs, one ciphertext per feature.
func (c *Client) EncryptBatch(l Layout, inputs [][]float64) (*Ciphertexts, error) {
	if err := c.checkLayout(l); err != nil {
		return nil, err
	}
	if l.Mode != Packed && l.Mode != Slots {
		return nil, fmt.Errorf("henn: EncryptBatch needs a Packed or Slots layout, not %v (use EncryptSentences)", l.Mode)
	}
	if len(inputs) == 0 {
		return nil, errors.New("henn: no inputs to encrypt")
	}
	for i, x := range inputs {
		if len(x) != l.InputDim {
			return nil, fmt.Errorf("henn: input %d has %d features, the model takes %d", i, len(x), l.InputDim)
		}
		if err := finite(x); err != nil {
			return nil, fmt.Errorf("henn: input %d: %w", i, err)
		}
	}
	out := &Ciphertexts{}
	n := l.Params.MaxSlots()
	per := l.PerCiphertext()
	for start := 0; start < len(inputs); start += per {
		group := inputs[start:min(start+per, len(inputs))]
		var cts []*rlwe.Ciphertext
		if l.Mode == Packed {
			ct, err := c.owner.Encrypt(packedSlots(l, group), l.Level)
			if err != nil {
				return nil, err
			}
			cts = []*rlwe.Ciphertext{ct}
		} else {
			cts = make([]*rlwe.Ciphertext, l.InputDim)
			var fe firstError
			parallel(l.InputDim, 2, func(j int) {
				v := make([]float64, n)
				for s, x := range group {
					v[s] = x[j]
				}
				ct, err := c.owner.Encrypt(v, l.Level)
				fe.set(err)
				cts[j] = ct
			})
			if fe.err != nil {
				return nil, fe.err
			}
		}
		out.Groups = append(out.Groups, cts)
		out.Counts = append(out.Counts, len(group))
	}
	return out, nil
}

// packedSlots is the slot vector of one Packed ciphertext holding group.
func packedSlots(l Layout, group [][]float64) []float64 {
	v := make([]float64, l.Params.MaxSlots())
	for f := 0; f < l.Block; f++ {
		if l.Copies > 1 {
			// Copy s is the input rotated by s·CopyShift features.
			for s := 0; s < l.Copies; s++ {
				if j := (f + s*l.CopyShift) % l.InPeriod; j < l.InputDim {
					v[f*l.Stride+s] = group[0][j]
				}
			}
			continue
		}
		if j := f % l.InPeriod; j < l.InputDim {
			for s, x := range group {
				v[f*l.Stride+s] = x[j]
			}
		}
	}
	return v
}

// DecryptLogits decrypts the server's output into one logit vector per
// input, in input order. It fails when the decrypted slots reach the size
// of the last modulus, which is what a wrong key (or an overflow) gives.
func (c *Client) DecryptLogits(l Layout, out *Ciphertexts) ([][]float64, error) {
	if err := c.checkLayout(l); err != nil {
		return nil, err
	}
	if out == nil || len(out.Groups) != len(out.Counts) {
		return nil, errors.New("henn: malformed output ciphertexts")
	}
	var logits [][]float64
	for g, group := range out.Groups {
		want := 1
		if l.Mode == Slots || l.Mode == Tokens {
			want = l.OutputDim
		}
		if len(group) != want {
			return nil, fmt.Errorf("henn: output group %d has %d ciphertexts, want %d", g, len(group), want)
		}
		if c := out.Counts[g]; c < 1 || c > l.PerCiphertext() {
			return nil, fmt.Errorf("henn: output group %d claims %d inputs, the layout holds 1…%d", g, c, l.PerCiphertext())
		}
		vals := make([][]float64, len(group))
		for i, ct := range group {
			v, err := c.owner.Decrypt(ct)
			if err != nil {
				return nil, err
			}
			if err := c.sane(v); err != nil {
				return nil, fmt.Errorf("henn: output group %d: %w", g, err)
			}
			vals[i] = v
		}
		for s := 0; s < out.Counts[g]; s++ {
			y := make([]float64, l.OutputDim)
			for j := range y {
				switch l.Mode {
				case Packed:
					y[j] = vals[0][j*l.Stride+s]
				case Slots:
					y[j] = vals[j][s]
				case Tokens:
					y[j] = vals[j][0]
				}
			}
			logits = append(logits, y)
		}
	}
	return logits, nil
}

// sane rejects decryptions that fill the modulus range: with the right key
// the values stay far below q0/(2·scale).
func (c *Client) sane(v []float64) error {
	bound := he.MessageBound(c.owner.Params())
	var m float64
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return errors.New("decryption gave a non-finite value (wrong key or parameters?)")
		}
		m = max(m, math.Abs(x))
	}
	if m > bound/2 {
		return fmt.Errorf("decrypted values reach %.3g, near the modulus bound %.3g: wrong secret key, ciphertexts from other parameters, or values that overflow", m, bound)
	}
	return nil
}

// EncryptEncoderInput encrypts one sentence for an [EncoderServer]: the
// token rows x (1 ≤ len(x) ≤ l.MaxTokens rows of l.Dim features, the
// client's embedding lookup) in the encoder layout, and the mask that only
// the client can make because only it knows the length n: 1/n in every
// slot of the n real tokens, 0 in the padding.
func (c *Client) EncryptEncoderInput(l EncoderLayout, x [][]float64) (*EncoderInput, error) {
	p := c.owner.Params()
	if !l.Params.Equal(&p) {
		return nil, fmt.Errorf("henn: encoder layout is for other parameters (LogN %d, %d levels) than the client's (LogN %d, %d levels)",
			l.Params.LogN(), l.Params.MaxLevel(), p.LogN(), p.MaxLevel())
	}
	if len(l.permutation) != l.Dim || l.Dim == 0 {
		return nil, errors.New("henn: encoder layout not made by CompileEncoder")
	}
	if len(x) == 0 {
		return nil, errors.New("henn: empty sentence (no tokens)")
	}
	if len(x) > l.MaxTokens {
		return nil, fmt.Errorf("henn: sentence has %d tokens, the encoder holds at most %d", len(x), l.MaxTokens)
	}
	if err := checkTokens(x, l.Dim, l.MaxTokens); err != nil {
		return nil, err
	}
	n := len(x)
	B, P := l.Block, l.Period()
	period := make([]float64, P)
	mask := make([]float64, P)
	for t, row := range x {
		for f, v := range row {
			period[t*B+l.position(f)] = v
			period[t*B+l.Dim+l.position(f)] = v
		}
		for i := range B {
			mask[t*B+i] = 1 / float64(n)
		}
	}
	tile := func(v []float64) []float64 {
		out := make([]float64, p.MaxSlots())
		for s := range out {
			out[s] = v[s%P]
		}
		return out
	}
	xc, err := c.owner.Encrypt(tile(period), l.Level)
	if err != nil {
		return nil, err
	}
	mc, err := c.owner.Encrypt(tile(mask), l.Level)
	if err != nil {
		return nil, err
	}
	return &EncoderInput{X: xc, Mask: mc}, nil
}

// DecryptEncoderLogits decrypts an [EncoderServer]'s output into the
// l.Classes logits. Like DecryptLogits it fails when the decrypted slots
// reach the modulus bound (wrong key, other parameters, overflow).
func (c *Client) DecryptEncoderLogits(l EncoderLayout, ct *rlwe.Ciphertext) ([]float64, error) {
	p := c.owner.Params()
	if !l.Params.Equal(&p) {
		return nil, errors.New("henn: encoder layout is for other parameters than the client's")
	}
	v, err := c.owner.Decrypt(ct)
	if err != nil {
		return nil, err
	}
	if err := c.sane(v); err != nil {
		return nil, fmt.Errorf("henn: encoder output: %w", err)
	}
	out := make([]float64, l.Classes)
	for k := range out {
		out[k] = v[k*l.ClassStride]
	}
	return out, nil
}
