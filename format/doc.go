// Package format groups krelu's readers of model and embedding files:
// safetensors, GGUF and GloVe/word2vec (see the subpackages). NumPy .npy
// files are read by package npy, llama2.c checkpoints by package llama2c.
package format
