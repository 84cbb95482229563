// Package distill turns a llama2.c model into an HE-friendly one: it
// replaces every SiLU of the SwiGLU blocks by a degree-2 polynomial (one
// ciphertext multiplication level under CKKS) and fine-tunes all weights
// by knowledge distillation — the KL divergence to the original model's
// next-token distribution (Hinton, Vinyals & Dean, "Distilling the
// Knowledge in a Neural Network", arXiv:1503.02531) on text the original
// model itself generated, so that no outside data is needed.
//
// Run compares starting points for the quadratics on equal budgets with
// the same batches: the kernel quadratic of "Kernel-Based ReLU
// Approximation for Homomorphic Encryption-Compatible Privacy-preserving
// Deep Learning Models" (arXiv 2605.23641) fitted on each layer's real
// pre-activations, the kernel method applied to SiLU, the direct
// least-squares quadratic of SiLU, x² (CryptoNets: Gilad-Bachrach et al.,
// ICML 2016) and a random quadratic. Training uses llama2c's float64
// backward pass and optim.Adam.
package distill
