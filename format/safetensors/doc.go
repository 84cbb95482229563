// Package safetensors reads tensors from Hugging Face safetensors files.
//
// The format (https://github.com/huggingface/safetensors, "Format"): an
// unsigned little-endian 64-bit header length N, N bytes of UTF-8 JSON
// mapping each tensor name to {"dtype", "shape", "data_offsets": [begin,
// end]} (offsets relative to the byte after the header) plus an optional
// "__metadata__" map of strings, then the data buffer. As in the reference
// implementation, the header is limited to 100 MB, tensors must not overlap
// and must cover the buffer exactly, and each byte range must match its
// shape and dtype. This reader converts F32, F16, BF16 and F64 tensors to
// float32 or float64; other dtypes are listed but not converted.
package safetensors
