// Package onnxpb holds Go types generated from ONNX's own onnx.proto
// (copied unchanged from Debian libonnx-dev 1.12, /usr/include/onnx/onnx.proto;
// Apache-2.0, ONNX Project Contributors). Regenerate with `go generate`
// after installing protoc (Debian protobuf-compiler) and protoc-gen-go at
// the version of google.golang.org/protobuf in go.mod:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx.proto=github.com/krelu/krelu/onnx/internal/onnxpb onnx.proto
