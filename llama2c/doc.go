// Package llama2c reads Andrej Karpathy's llama2.c checkpoints and
// tokenizers and runs the Llama-2 forward pass in pure Go, with the SwiGLU
// activation replaceable by any function — in krelu, a fitted polynomial.
//
// The checkpoint format is llama2.c's legacy (version 0) export: a header of
// seven little-endian int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
// vocab_size, seq_len; a negative vocab_size means a separate classifier
// follows), then float32 weights in the order token_embedding, rms_att, wq,
// wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real, freq_cis_imag
// [, wcls]. The tokenizer file (tokenizer.bin / tok512.bin) holds a uint32
// max_token_length and, per id, a float32 merge score, a uint32 length and
// the piece bytes. Encoding follows llama2.c's encode: a dummy-prefix space,
// one token per UTF-8 code point with byte fallback (<0xXX>, ids 3+byte),
// then greedy merging of the adjacent pair of highest score.
//
// The forward pass mirrors llama2.c's run.c: RMSNorm (eps 1e-5), rotary
// embeddings taken from the stored frequency tables, grouped-query causal
// attention with a key/value cache, and the SwiGLU feed-forward block
// w2(act(w1·x) ⊙ w3·x) with act = SiLU by default. Weights are kept as
// float32, as stored; arithmetic is in float64.
//
// State.SetActivation (or SetLayerActivation) swaps the activation;
// State.SetFFNHook records the pre-activations each layer's activation
// sees, which package calib turns into calibration data; Compare scores a
// swapped model against the original (perplexity, top-1 agreement, KL).
//
// Weights hold the parameters in float64 for training: Weights.Forward
// runs a whole sequence recording a Tape (equal to State.Forward position
// by position), Weights.Backward back-propagates through the classifier,
// RMSNorm, RoPE, causal grouped-query attention, the SwiGLU block with a
// trainable polynomial gate (w2(p(w1·x) ⊙ w3·x)) and the embeddings, each
// checked against finite differences; DistillLoss is the KL-to-teacher
// loss; optim.Adam updates Weights.Tensors. Model.Write writes the legacy
// checkpoint format back, and Reference scores many students against one
// cached teacher.
//
// Embedded returns the stories260K model (260k parameters, trained on
// TinyStories, MIT licence, see model/LICENSE) compiled into the binary.
//
// References:
//   - A. Karpathy, llama2.c, https://github.com/karpathy/llama2.c (run.c, doc/stories260K.md).
//   - H. Touvron et al., "Llama 2: Open Foundation and Fine-Tuned Chat Models", arXiv:2307.09288, 2023.
//   - N. Shazeer, "GLU Variants Improve Transformer", arXiv:2002.05202, 2020.
//   - J. Su et al., "RoFormer: Enhanced Transformer with Rotary Position Embedding", arXiv:2104.09864, 2021.
package llama2c
