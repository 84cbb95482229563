// Package approx fits and measures HE-friendly polynomial replacements for
// ReLU (and SiLU, GELU): the approximation engine of krelu.
//
// CKKS evaluates only additions and multiplications, so an activation must
// become a polynomial, and every doubling of its degree costs a level. The
// method of arXiv 2605.23641 smooths ReLU with a kernel, f_h = ReLU ∗ K_h
// (Gaussian: x·Φ(x/h) + h·φ(x/h)), and fits a quadratic — one CKKS level —
// to f_h by least squares under the distribution of the values the
// activation actually receives, on an interval [−B, B] chosen from that
// data. Jackson's theorem motivates it: a Lipschitz-L function has a
// degree-n approximation within π·L·B/(2(n+1)) on [−B, B] (JacksonBound);
// smoothing trades bias at the kink for a smaller error in the tails.
//
// Entry points:
//
//   - FitActivation: target, kernel ("none" = direct fit), bandwidth (or
//     cross-validated), method (ls, ridge, minimax, chebyshev, or kernreg:
//     the Nadaraya–Watson regression of the calibration pairs, Nadaraya
//     1964, Watson 1964), degree 1–30, interval, calibration and held-out
//     data → a validated Activation ("krelu.activation/v1", defined in
//     package activation so that the CKKS layer reads it without this
//     package) with power and Chebyshev coefficients and Metrics.
//   - Compare: the kernel fit, the direct least-squares control on the
//     same data, the published quadratics (x² of CryptoNets, the Faster
//     CryptoNets power-of-two quadratic, the "HE-friendly" N(0,1)
//     quadratic), uniform least squares, minimax and Chebyshev quadratics,
//     and deeper references (minimax degree 4 and 7, the composite minimax
//     sign ReLU of Lee et al. 2021) in one table, best per column marked.
//   - FitDecisionAware: the decision-aware quadratic of Li, Wu & Miao
//     (arXiv 2605.22237) — the quadratic that keeps a reference model's
//     decisions with the largest margin, given the caller's forward pass
//     (packages nn and rewrite supply theirs).
//   - FitLS, Minimax (Remez exchange), ChebyshevInterp, EvalMetrics,
//     ChooseInterval, ParseSource: the building blocks.
//
// Calibration sources are analytic distributions (Normal, Uniform,
// Laplace, StudentT, Mixture), integrated by adaptive Gauss–Kronrod
// quadrature split at the kink 0 and at quantiles — no Monte Carlo noise —
// or samples (*Sample, from .npy or text files), fitted in one streaming
// pass over Chebyshev moments. All fits work in the Chebyshev basis on
// the scaled interval, where the least-squares problem stays well
// conditioned.
//
// Closed forms that the tests check to 1e-9 or better: the least-squares
// quadratic of ReLU under N(0,1) is (1+x²)/(2√(2π)) + x/2; under the
// uniform distribution on [−a, a] it is 3a/32 + x/2 + 15x²/(32a); the
// minimax quadratic on [−a, a] is a/16 + x/2 + x²/(2a) with error a/16.
//
// References:
//   - arXiv 2605.23641 (kernel-smoothed, calibrated quadratic activations).
//   - arXiv 2605.22237 (Li, Wu & Miao, decision-aware quadratics);
//     O. L. Mangasarian, A finite Newton method for classification, 2002;
//     J. A. Nelder, R. Mead, A simplex method for function minimization,
//     1965.
//   - R. Gilad-Bachrach et al., CryptoNets, ICML 2016.
//   - E. Chou et al., Faster CryptoNets, arXiv:1811.09953, 2018.
//   - E. Lee, J.-W. Lee, Y.-S. Kim, J.-S. No, Minimax approximation of sign
//     function by composite polynomial for homomorphic comparison, IEEE
//     TDSC 2021; J. Lee et al., Precise approximation of convolutional
//     neural networks for homomorphically encrypted data, 2021.
//   - L. N. Trefethen, Approximation Theory and Approximation Practice,
//     SIAM 2013 (Chebyshev interpolation, Remez).
//   - R. Piessens et al., QUADPACK, Springer 1983 (Gauss–Kronrod 7–15).
//   - D. Jackson, Über die Genauigkeit der Annäherung stetiger Funktionen,
//     1911; E. W. Cheney, Introduction to Approximation Theory, 1966.
package approx
