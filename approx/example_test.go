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
