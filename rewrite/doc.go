// Package rewrite calibrates a model graph (package graph) and rewrites it
// into an HE-ready graph: BatchNormalization folded into the preceding
// convolutions, and every ReLU replaced by a polynomial (graph.OpPoly)
// fitted to the pre-activation values that layer really sees on
// calibration inputs.
//
// The default fit is the method of "Kernel-Based ReLU Approximation for
// Homomorphic Encryption-Compatible Privacy-preserving Deep Learning
// Models" (arXiv 2605.23641): least squares, weighted by the layer's own
// pre-activations, to ReLU smoothed by a Gaussian kernel whose bandwidth is
// chosen by cross-validation (package approx). Baselines: "direct" (the
// same least squares without smoothing), "minimax" (the minimax quadratic
// a/16 + x/2 + x²/(2a) on [−a, a]), "decision" (the decision-aware
// quadratic of Li, Wu & Miao, arXiv 2605.22237, which keeps the original
// model's decisions on the calibration inputs with the largest margin), a
// fixed krelu.activation/v1 file, and "auto", a greedy per-layer choice by
// agreement with the original model.
//
// The rewritten graph still runs in plaintext (graph.Run); package henn
// compiles it for CKKS.
package rewrite
