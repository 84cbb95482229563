package henn

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// slotsTile is the number of coefficients a worker accumulates at once:
// 128 outputs × 128 coefficients × 16 bytes of 128-bit accumulators stay
// in a core's L2 cache.
const slotsTile = 128

// linearSlots computes out_j = Σ_i W[j][i]·in_i on ciphertexts directly
// in RNS: the weights are rounded once to integers at the ratio of the
// accumulator and input scales, products are summed in 128 bits and
// reduced once per coefficient. Lattigo's scalar MulThenAdd reduces after
// every product and converts the constant through big numbers on every
// call; this kernel does the same arithmetic about an order of magnitude
// faster, which is what makes the CryptoNets layout pay.
func (s *Server) linearSlots(in []*rlwe.Ciphertext, st serverStage) ([]*rlwe.Ciphertext, error) {
	w, b := st.lin.w, st.lin.b
	level := st.level
	for i, ct := range in {
		if ct.Level() != level || ct.Degree() != 1 {
			return nil, fmt.Errorf("input %d at level %d degree %d, want level %d degree 1", i, ct.Level(), ct.Degree(), level)
		}
	}
	ratio := st.accScale.Float64() / st.inScale.Float64()
	Q := s.params.Q()[:level+1]
	// wq[m][i] lists the nonzero weights of column i mod Q[m].
	type entry struct {
		j int
		w uint64
	}
	wq := make([][][]entry, len(Q))
	for m, q := range Q {
		wq[m] = make([][]entry, len(in))
		for i := range in {
			for j := range w {
				x := w[j][i]
				if x == 0 {
					continue
				}
				r := math.Round(x * ratio)
				if math.Abs(r) >= 1<<62 {
					return nil, fmt.Errorf("weight %g too large for the scale", x)
				}
				v := uint64(math.Abs(r)) % q
				if r < 0 && v != 0 {
					v = q - v
				}
				if v != 0 {
					wq[m][i] = append(wq[m][i], entry{j, v})
				}
			}
		}
	}
	out := make([]*rlwe.Ciphertext, len(w))
	for j := range out {
		out[j] = ckks.NewCiphertext(s.params, 1, level)
		out[j].MetaData = in[0].MetaData.CopyNew()
		out[j].Scale = st.accScale
	}
	N := s.params.N()
	tiles := N / slotsTile
	jobs := len(Q) * 2 * tiles
	parallel(jobs, s.workers, func(job int) {
		m, p, t := job/(2*tiles), (job/tiles)%2, job%tiles
		lo := make([]uint64, len(w)*slotsTile)
		hi := make([]uint64, len(w)*slotsTile)
		c0 := t * slotsTile
		for i, ct := range in {
			x := ct.Value[p].Coeffs[m][c0 : c0+slotsTile]
			for _, e := range wq[m][i] {
				l := lo[e.j*slotsTile : (e.j+1)*slotsTile]
				h := hi[e.j*slotsTile : (e.j+1)*slotsTile]
				for k, xv := range x {
					ph, pl := bits.Mul64(e.w, xv)
					var c uint64
					l[k], c = bits.Add64(l[k], pl, 0)
					h[k] += ph + c
				}
			}
		}
		q := Q[m]
		for j := range out {
			dst := out[j].Value[p].Coeffs[m][c0 : c0+slotsTile]
			for k := range dst {
				dst[k] = bits.Rem64(hi[j*slotsTile+k], lo[j*slotsTile+k], q)
			}
		}
	})
	var fe firstError
	parallel(len(out), s.workers, func(j int) {
		if b[j] != 0 {
			if err := s.eval.Add(out[j], b[j], out[j]); err != nil {
				fe.set(err)
				return
			}
		}
		if err := s.eval.Rescale(out[j], out[j]); err != nil {
			fe.set(err)
			return
		}
		out[j].Scale = st.outScale
	})
	return out, fe.err
}
