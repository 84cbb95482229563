package approx_test

import (
	"fmt"

	"github.com/krelu/krelu/approx"
)

// The bias/worst-case trade-off of the Gaussian kernel for N(0,1)
// calibration on [−4, 4]: h = 0 is the direct least-squares fit to ReLU,
// which has the smallest RMSE but a large error at the ends of the
// interval; smoothing buys a smaller maximum error with a larger RMSE. For
// reference, the degree-2 minimax error on [−4, 4] is 4/16 = 0.25.
func ExampleBandwidthTradeoff() {
	hs := []float64{0, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2}
	pts, err := approx.BandwidthTradeoff(approx.GaussianKernel{}, approx.Normal{Mu: 0, Sigma: 1}, 2, -4, 4, hs)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("   h    RMSE  max|err|")
	for _, p := range pts {
		fmt.Printf("%4.2f  %.4f  %.4f\n", p.H, p.RMSE, p.MaxErr)
	}
	best, _ := approx.BestMaxErr(pts)
	fmt.Printf("smallest max error at h=%.2f\n", best.H)
	// Output:
	//    h    RMSE  max|err|
	// 0.00  0.1053  1.4048
	// 0.25  0.1063  1.3270
	// 0.50  0.1192  1.1334
	// 0.75  0.1557  0.9014
	// 1.00  0.2128  0.6869
	// 1.25  0.2825  0.5137
	// 1.50  0.3599  0.6083
	// 2.00  0.5279  0.8027
	// smallest max error at h=1.25
}

// Choosing h by 5-fold cross-validation on calibration draws, once for the
// worst case and once for the RMSE.
func ExampleSelectBandwidth() {
	x := make([]float64, 4000)
	for i := range x {
		// Deterministic stand-in for N(0,1) draws: normal quantiles.
		x[i] = approx.Normal{Mu: 0, Sigma: 1}.Quantile((float64(i) + 0.5) / float64(len(x)))
	}
	s := approx.Sample{Label: "normal quantiles", X: x}
	for _, name := range []string{"max", "mix:0.5", "rmse"} {
		crit, err := approx.ParseCriterion(name)
		if err != nil {
			fmt.Println(err)
			return
		}
		h, err := approx.SelectBandwidth(approx.GaussianKernel{}, s, 2, -4, 4, 5, crit)
		if err != nil {
			fmt.Println(err)
			return
		}
		if crit == approx.CriterionRMSE {
			// The RMSE curve is flat near h = 0, so only the order of
			// magnitude of its minimiser is meaningful.
			fmt.Printf("%-8s h<0.05: %v\n", crit, h < 0.05)
			continue
		}
		fmt.Printf("%-8s h=%.2f\n", crit, h)
	}
	// Output:
	// max      h=1.07
	// mix:0.5  h=1.07
	// rmse     h<0.05: true
}

// Kernel ridge regression with kernlab's polydot(degree=2) lives in the
// space of quadratics, so projecting it onto degree 2 gives back the direct
// least-squares fit; the RBF kernel gives a nearby quadratic.
func ExampleFitKernelRidge() {
	x := make([]float64, 2000)
	for i := range x {
		x[i] = approx.Normal{Mu: 0, Sigma: 1}.Quantile((float64(i) + 0.5) / float64(len(x)))
	}
	s := approx.Sample{Label: "normal quantiles", X: x}
	direct, _ := approx.FitLS(approx.ReLU, &s, 2, -4, 4, 0)
	poly, _ := approx.FitKernelRidge(approx.PolyDot{Degree: 2, Scale: 1, Offset: 1}, s, 30, 1e-12, 2, -4, 4)
	rbf, _ := approx.FitKernelRidge(approx.RBFDot{Sigma: 1}, s, 30, 1e-6, 2, -4, 4)
	fmt.Printf("direct   %.4f\n", []float64(direct))
	fmt.Printf("polydot  %.4f\n", []float64(poly))
	fmt.Printf("rbfdot   %.4f\n", []float64(rbf))
	// Output:
	// direct   [0.1985 0.5000 0.2005]
	// polydot  [0.1985 0.5000 0.2005]
	// rbfdot   [0.1994 0.4996 0.1995]
}
