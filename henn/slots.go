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
	// Row-major nonzero weights per modulus: rows[m][j] = (i, w mod Q[m]).
	rows := make([][][]entry, len(Q))
	for m := range Q {
		rows[m] = make([][]entry, len(w))
		for i := range in {
			for _, e := range wq[m][i] {
				rows[m][e.j] = append(rows[m][e.j], entry{i, e.w})
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
		c0 := t * slotsTile
		q := Q[m]
		// xt holds the tile of every input, 4 coefficients per input
		// contiguous, so that a row's multiply-adds run on 4 register
		// accumulators (128-bit each) without touching memory.
		xt := make([]uint64, len(in)*4)
		for k0 := 0; k0 < slotsTile; k0 += 4 {
			for i, ct := range in {
				copy(xt[i*4:i*4+4], ct.Value[p].Coeffs[m][c0+k0:c0+k0+4])
			}
			for j := range out {
				var h0, l0, h1, l1, h2, l2, h3, l3, c uint64
				for _, e := range rows[m][j] {
					x := xt[e.j*4 : e.j*4+4 : e.j*4+4]
					ph, pl := bits.Mul64(e.w, x[0])
					l0, c = bits.Add64(l0, pl, 0)
					h0 += ph + c
					ph, pl = bits.Mul64(e.w, x[1])
					l1, c = bits.Add64(l1, pl, 0)
					h1 += ph + c
					ph, pl = bits.Mul64(e.w, x[2])
					l2, c = bits.Add64(l2, pl, 0)
					h2 += ph + c
					ph, pl = bits.Mul64(e.w, x[3])
					l3, c = bits.Add64(l3, pl, 0)
					h3 += ph + c
				}
				dst := out[j].Value[p].Coeffs[m][c0+k0 : c0+k0+4 : c0+k0+4]
				dst[0] = bits.Rem64(h0, l0, q)
				dst[1] = bits.Rem64(h1, l1, q)
				dst[2] = bits.Rem64(h2, l2, q)
				dst[3] = bits.Rem64(h3, l3, q)
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
