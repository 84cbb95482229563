package activation_test

import (
	"fmt"
	"strings"

	"github.com/krelu/krelu/activation"
)

// An activation file as `krelu fit` writes it, read back and evaluated;
// Depth is what it costs under CKKS.
func ExampleRead() {
	a, err := activation.Read(strings.NewReader(`{"format": "krelu.activation/v1", "target": "relu",
		"kernel": "gaussian", "bandwidth": 0.5, "method": "ls", "degree": 2, "interval": [-4, 4],
		"coefficients": [0.25, 0.5, 0.125], "chebyshev": [], "calibration": {"source": "normal:0,1", "n": 0, "outside_frac": 0}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	p := a.Poly()
	fmt.Printf("p(2) = %g, levels %d\n", p.Eval(2), activation.Depth(p.Degree()))
	fmt.Printf("Chebyshev on [-4, 4]: %.4g\n", activation.PowerToChebyshev(p, -4, 4))
	// Output:
	// p(2) = 1.75, levels 1
	// Chebyshev on [-4, 4]: [1.25 2 1]
}
