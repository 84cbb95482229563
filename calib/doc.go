// Package calib extracts calibration data for polynomial activations from
// real pre-trained language models: the values an activation actually sees.
//
// Two sources are provided for a llama2.c model (package llama2c):
//
//   - token-embedding values: every coordinate of the embedding matrix, or
//     the embedding rows of the tokens of a text corpus, each row counted as
//     often as its token occurs (frequency-weighted, as in real text);
//   - FFN pre-activations: the inputs w1·rmsnorm(x) of each layer's SwiGLU
//     activation while the model reads text, one sentence (or line) per
//     sequence starting from BOS, per layer or pooled over layers.
//
// Text comes in units (SST-2 sentences, or lines of a text file), and
// Split divides units — never tokens of one unit — into a calibration and
// a held-out part, so that assessment never sees calibration text. Large
// extractions are subsampled uniformly by a seeded reservoir (Vitter's
// algorithm R), which keeps the empirical distribution unbiased.
//
// References:
//   - R. Socher et al., "Recursive Deep Models for Semantic Compositionality
//     Over a Sentiment Treebank", EMNLP 2013 (SST).
//   - A. Wang et al., "GLUE: A Multi-Task Benchmark and Analysis Platform
//     for Natural Language Understanding", ICLR 2019 (SST-2).
//   - J. S. Vitter, "Random Sampling with a Reservoir", ACM TOMS 11(1), 1985.
package calib
