package figures_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/figures"
)

// Plot the direct least-squares quadratic and the Gaussian-kernel one
// against ReLU, with their errors, as an SVG file.
func ExampleCurvesAndErrors() {
	dir, err := os.MkdirTemp("", "krelu-figures")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	src := approx.Normal{Mu: 0, Sigma: 1}
	direct, _ := approx.FitLS(approx.ReLU, src, 2, -4, 4, 0)
	smooth, _ := approx.FitLS(approx.SmoothedReLU(approx.GaussianKernel{}, 1.25), src, 2, -4, 4, 0)
	err = figures.CurvesAndErrors(filepath.Join(dir, "fits.svg"), -4, 4,
		figures.Curve{Name: "ReLU", F: approx.ReLU},
		[]figures.Curve{{Name: "direct", F: direct.Eval}, {Name: "gaussian h=1.25", F: smooth.Eval}})
	fmt.Println("error:", err)
	// Output:
	// error: <nil>
}

// The RMSE-versus-maximum-error curve of the Gaussian kernel as a PNG.
func ExampleTradeoff() {
	dir, err := os.MkdirTemp("", "krelu-figures")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	hs := []float64{0, 0.5, 1, 1.25, 1.5, 2}
	pts, err := approx.BandwidthTradeoff(approx.GaussianKernel{}, approx.Normal{Mu: 0, Sigma: 1}, 2, -4, 4, hs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("error:", figures.Tradeoff(filepath.Join(dir, "tradeoff.png"), pts))
	// Output:
	// error: <nil>
}
