// Package gguf reads GGUF files (the ggml/llama.cpp model format):
// header, metadata key/values, tensor infos, and F32/F16/BF16 tensor data.
//
// Layout (ggml docs/gguf.md, versions 2 and 3; version 1 used 32-bit
// counts and is rejected): magic "GGUF", uint32 version, uint64
// tensor_count, uint64 metadata_kv_count, the metadata (key as uint64
// length + bytes, uint32 value type, value; arrays are uint32 element
// type + uint64 count + elements), the tensor infos (name, uint32 n_dims ≤
// 4, n_dims × uint64 dims with dims[0] the fastest-varying, uint32
// ggml_type, uint64 offset), padding to general.alignment (default 32),
// then the data; each tensor's offset is relative to the data start and
// aligned. Everything is little-endian.
//
// This is a small reader written for krelu (github.com/gpustack/gguf-parser-go
// was considered; it pulls in a large dependency tree for features krelu
// does not need). Every count and length is checked against the bytes
// remaining before anything is allocated, so a corrupt header fails with
// an error instead of an enormous allocation; it is fuzzed.
package gguf
