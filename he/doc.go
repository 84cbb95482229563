// Package he is krelu's CKKS layer over Lattigo v6
// (github.com/tuneinsight/lattigo/v6): 128-bit secure parameter presets and
// a depth planner, key material split between the key owner (client) and
// an evaluating server, versioned serialization, and the encrypted
// evaluation of fitted activations at minimal depth.
//
// # Security
//
// Every parameter set built by this package is checked against the
// HomomorphicEncryption.org security standard (Albrecht et al., "Homomorphic
// Encryption Security Standard", 2018, table for uniform ternary secrets,
// classical 128-bit security): log2(QP) ≤ 27, 54, 109, 218, 438, 881, 1772
// for LogN = 10 … 16. The secret must be uniform ternary and the error a
// discrete Gaussian with σ ≥ 3.19. [CheckSecurity] rejects anything else.
//
// # Keys
//
// A [KeyOwner] holds the secret key and is the only type that can decrypt;
// it has no method that exports or serializes the secret key. What a server
// may receive is an [EvaluationKeys] value (parameters, public key,
// relinearization key and Galois keys for the rotations it was asked for),
// which can be written with [EvaluationKeys.WriteTo].
//
// # One-level activation
//
// A degree-2 polynomial p(x) = c0 + c1·x + c2·x² costs exactly one level
// (Gilad-Bachrach et al., CryptoNets, ICML 2016, use x²; krelu fits c0, c1,
// c2 to a kernel-smoothed ReLU). [EvalQuadratic] computes it with a single
// ciphertext–ciphertext product: c2 is folded into the ciphertext's scale
// metadata (free), c1·x is added with a scalar MulThenAdd whose constant is
// pre-multiplied by the ratio of the scales (no rescale), c0 is added as a
// constant, and one Rescale follows. Lattigo's generic evaluator
// (Bossuat et al., "Efficient Bootstrapping for Approximate Homomorphic
// Encryption with Non-Sparse Keys", Eurocrypt 2021, baby-step giant-step
// polynomial evaluation) needs ceil(log2(d+1)) levels, i.e. two for d = 2;
// [EvalPolynomial] wraps it as the general path and the baseline.
//
// The high-precision reference is ReLU(x) = x·(1+sign(x))/2 with sign from
// a composite minimax polynomial (Lee, Lee, Kim, No, "Minimax approximation
// of sign function by composite polynomial for homomorphic comparison",
// IEEE TDSC 2021), see [ReLUReference].
package he
