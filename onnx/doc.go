// Package onnx reads ONNX models (ModelProto, onnx/onnx.proto) into
// krelu's model IR, package graph.
//
// The protobuf types are generated from ONNX's own onnx.proto by protoc
// and protoc-gen-go (onnx/internal/onnxpb, `go generate`), and decoded with
// google.golang.org/protobuf. Read converts initializers stored in
// raw_data or in the typed fields (float, double, float16, bfloat16;
// int32/int64 for shapes and indices) to float64, and fixes every input
// shape: symbolic dimensions need values from Options. Anything krelu
// cannot run faithfully — external-data tensors, non-float element types,
// control flow, opsets outside 6–18, operators package graph does not
// implement — is a clear error, never a silent approximation.
//
// Write does the reverse, so rewritten graphs (with krelu.Poly
// activations, domain "krelu") can be inspected with ONNX tools and read
// back.
//
// The runtime is checked against ONNX's conformance suite (Debian
// libonnx-testdata); see TestConformance and docs/onnx-conformance.md.
package onnx
