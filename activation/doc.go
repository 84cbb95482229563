// Package activation holds the fitted polynomial activation as krelu
// stores it (the JSON format krelu.activation/v1) and the polynomial type
// it carries, with the basis conversions and depth rules every layer
// agrees on.
//
// It is the one piece both lower layers share: package approx fits and
// writes activations, package he evaluates them on CKKS ciphertexts, and
// neither imports the other. The Chebyshev conversions follow Trefethen,
// "Approximation Theory and Approximation Practice" (SIAM 2013), ch. 3–4;
// the depth rule for the generic evaluator follows Bossuat et al.,
// "Efficient Bootstrapping for Approximate Homomorphic Encryption with
// Non-Sparse Keys" (Eurocrypt 2021).
package activation
