package approx_test

import (
	"fmt"

	"github.com/krelu/krelu/approx"
)

// The Gaussian-smoothed ReLU x·Φ(x/h) + h·φ(x/h) and its derivative Φ(x/h).
func ExampleSmoothedReLU() {
	k, err := approx.KernelByName("gaussian")
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := approx.NewSmoothedReLU(k, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	df := approx.SmoothedReLUDeriv(k, 0.5)
	for _, x := range []float64{-2, -0.5, 0, 0.5, 2} {
		fmt.Printf("x=%4.1f  f_h=%.6f  f_h'=%.6f\n", x, f(x), df(x))
	}
	// Output:
	// x=-2.0  f_h=0.000004  f_h'=0.000032
	// x=-0.5  f_h=0.041658  f_h'=0.158655
	// x= 0.0  f_h=0.199471  f_h'=0.500000
	// x= 0.5  f_h=0.541658  f_h'=0.841345
	// x= 2.0  f_h=2.000004  f_h'=0.999968
}

// Every kernel's smoothed ReLU at the kink, f_h(0) = h·G(0): the bias the
// kernel trades for smoothness.
func ExampleKernelByName() {
	for _, name := range approx.KernelNames() {
		k, _ := approx.KernelByName(name)
		fmt.Printf("%-12s f_1(0)=%.6f std=%.6f\n", name, approx.SmoothedReLU(k, 1)(0), approx.KernelStd(k))
	}
	_, err := approx.KernelByName("cosine")
	fmt.Println(err)
	// Output:
	// epanechnikov f_1(0)=0.187500 std=0.447214
	// gaussian     f_1(0)=0.398942 std=1.000000
	// logistic     f_1(0)=0.693147 std=1.813799
	// triangular   f_1(0)=0.166667 std=0.408248
	// uniform      f_1(0)=0.250000 std=0.577350
	// approx: unknown kernel "cosine" (valid: epanechnikov, gaussian, logistic, triangular, uniform)
}
