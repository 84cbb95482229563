package approx_test

import (
	"fmt"
	"math"

	"github.com/krelu/krelu/approx"
)

// The least-squares quadratic of ReLU under N(0,1) is
// (1+x²)/(2√(2π)) + x/2.
func ExampleFitLS() {
	p, err := approx.FitLS(approx.ReLU, approx.Normal{Mu: 0, Sigma: 1}, 2, -12, 12, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.6f %.6f %.6f\n", p[0], p[1], p[2])
	fmt.Printf("%.6f\n", 1/(2*math.Sqrt(2*math.Pi)))
	// Output:
	// 0.199471 0.500000 0.199471
	// 0.199471
}

// The best uniform quadratic of ReLU on [−a,a] is a/16 + x/2 + x²/(2a).
func ExampleMinimax() {
	p, maxErr, err := approx.Minimax(approx.ReLU, 2, -4, 4)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.6f %.6f %.6f, error %.6f\n", p[0], p[1], p[2], maxErr)
	// Output: 0.250000 0.500000 0.125000, error 0.250000
}

// FitActivation fits the kernel method on calibration data and measures
// it against ReLU on held-out data.
func ExampleFitActivation() {
	cal := &approx.Sample{Label: "calibration", X: approx.Draw(approx.Normal{Mu: 0, Sigma: 1}, 100000, 1)}
	hold := &approx.Sample{Label: "holdout", X: approx.Draw(approx.Normal{Mu: 0, Sigma: 1}, 100000, 2)}
	a, err := approx.FitActivation(approx.FitOptions{
		Kernel:      "gaussian",
		Bandwidth:   0.5,
		Interval:    "q0.999",
		Calibration: cal,
		Holdout:     hold,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("interval [%.2f, %.2f], %d coefficients, depth %d\n", a.Interval[0], a.Interval[1], len(a.Coefficients), a.Metrics.Depth)
	fmt.Printf("RMSE against ReLU on the holdout: %.2f\n", a.Metrics.RMSE)
	// Output:
	// interval [-3.31, 3.31], 3 coefficients, depth 1
	// RMSE against ReLU on the holdout: 0.12
}

// Compare puts the kernel fit, the direct fit and every baseline in one
// table; the verdict line says where the kernel fit loses.
func ExampleCompare() {
	c, err := approx.Compare(approx.CompareOptions{Bandwidth: 0.5, Calibration: approx.Uniform{A: -4, B: 4}, NoComposite: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range c.Rows[:2] {
		fmt.Printf("%s: %s, RMSE %.4f, max %.4f\n", r.Name, r.Formula, r.Metrics.RMSE, r.Metrics.MaxAbs)
	}
	fmt.Println(c.KernelVerdict)
	// Output:
	// kernel LS (gaussian, h=0.5): 0.4097 + 0.5x + 0.1136x^2, RMSE 0.1462, max 0.4097
	// direct LS (kernel none): 0.375 + 0.5x + 0.1172x^2, RMSE 0.1443, max 0.3750
	// RMSE: kernel LOSES (0.1462 vs 0.1443, +1.3%); max|err|: kernel LOSES (0.4097 vs 0.375, +9.3%); p99|err|: kernel LOSES (0.3899 vs 0.3552, +9.8%)
}
