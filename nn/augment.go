package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Shifter translates square single-channel images by a random whole number
// of pixels in each direction, filling the uncovered border with zeros.
// Random shifts of one or two pixels are the classic cheap augmentation for
// MNIST classifiers (Simard, Steinkraus & Platt, ICDAR 2003; Ciresan et al.,
// Neural Computation 2010): they teach translation tolerance that a dense
// layer does not have by construction.
type Shifter struct {
	Side, Max int
	rng       *rand.Rand
}

// NewShifter returns a Shifter for images of dim = side² pixels (side 0:
// √dim) shifting by up to max pixels, with its own stream seeded by seed.
func NewShifter(dim, side, max int, seed uint64) (*Shifter, error) {
	if side == 0 {
		side = int(math.Round(math.Sqrt(float64(dim))))
	}
	if side <= 0 || side*side != dim {
		return nil, fmt.Errorf("nn: shift augmentation needs square images, but the input has %d values (side %d)", dim, side)
	}
	if max < 0 || max >= side {
		return nil, fmt.Errorf("nn: shift of %d pixels out of range [0, %d)", max, side)
	}
	return &Shifter{Side: side, Max: max, rng: rand.New(rand.NewPCG(seed, 0x61756720))}, nil
}

// Apply writes src shifted by a random (dx, dy) into dst and returns the shift.
func (s *Shifter) Apply(dst, src []float64) (dx, dy int) {
	dx = s.rng.IntN(2*s.Max+1) - s.Max
	dy = s.rng.IntN(2*s.Max+1) - s.Max
	Shift(dst, src, s.Side, dx, dy)
	return dx, dy
}

// Shift writes into dst the side×side image src moved dx pixels right and
// dy pixels down: dst[r][c] = src[r−dy][c−dx], zero where that is outside.
func Shift(dst, src []float64, side, dx, dy int) {
	for r := 0; r < side; r++ {
		row := dst[r*side : (r+1)*side]
		sr := r - dy
		if sr < 0 || sr >= side {
			clear(row)
			continue
		}
		srow := src[sr*side : (sr+1)*side]
		for c := range row {
			if sc := c - dx; sc >= 0 && sc < side {
				row[c] = srow[sc]
			} else {
				row[c] = 0
			}
		}
	}
}
