// Package graph is krelu's model IR: a static-shape dataflow graph of
// ONNX-style operators with float64 weights, and a plaintext runtime for
// it.
//
// Every model path goes through a Graph: the ONNX reader (package onnx)
// converts a ModelProto into one, calibration and activation rewriting
// work on it (replacing Relu by the polynomial node OpPoly, fitted as in
// "Kernel-Based ReLU Approximation for Homomorphic Encryption-Compatible
// Privacy-preserving Deep Learning Models", arXiv 2605.23641), and the HE
// compiler lowers it. The package imports no serialization format.
//
// A Graph holds named inputs with fixed shapes, initializers (constant
// tensors), nodes in topological order and named outputs. Node semantics
// follow the ONNX operator specifications (onnx/docs/Operators.md) for the
// default domain at the graph's Opset; Supported and SupportedOps list the
// implemented ones. Run executes a graph in float64; RunWith's Observe hook
// sees every node's outputs, which is how calibration records the values
// each activation receives. InferShapes and Summarize report static
// shapes and parameter counts; InferShapes uses per-op shape rules, not a
// forward pass, so learning an untrusted model's shapes does not allocate
// its activations (the few ops without a rule run on zeros, within 2^24
// values). A run holds at most RunOptions.MemoryBudget bytes of values
// (DefaultMemoryBudget, 1 GiB).
//
// Convolutions and matrix products go through gonum's BLAS (im2col for
// Conv). Errors name the failing node and op; an unsupported op is an
// *UnsupportedError, and MaxPool's says to use average pooling instead,
// because a maximum has no low-degree polynomial form under CKKS.
package graph
