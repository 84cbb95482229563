// Package henn evaluates small neural networks with polynomial activations
// on CKKS-encrypted inputs (Lattigo v6 through package he).
//
// A model is described without any cryptographic type: a [Network] of
// [Dense] and [Poly] layers (a convolution is a Dense with its expanded
// sparse matrix), or an [FFNBlock] for the feed-forward block of a
// transformer encoder. [Compile] (or [CompileFFN]) lowers it to linear maps
// and squares — a degree-2 activation c2·x²+c1·x+c0 = c2·(x+t)²+e costs one
// level, its shift t joins the previous bias and c2, e the next layer
// (CryptoNets, Gilad-Bachrach et al., ICML 2016, use x²; krelu fits the
// quadratic to a kernel-smoothed ReLU) — and plans 128-bit secure
// parameters (package he's presets on the conjugate-invariant ring, N real
// slots) with exactly as many levels as the model consumes.
//
// The [Client] holds the secret key, encrypts inputs and decrypts logits;
// the [Server] holds the plaintext weights and the public evaluation keys
// only (he.EvaluationKeys contains no secret key).
//
// # Layouts
//
// Packed (latency): each input is tiled over a block of B = pow2(widest
// layer) feature positions and S = slots/B inputs share a ciphertext,
// interleaved (feature f of input s in slot f·S+s), so a rotation by k·S
// shifts the features of every input at once. A dense layer is Σ_k d_k ⊙
// rot(x, k) over its generalized diagonals (Halevi & Shoup, CRYPTO 2014),
// in the rectangular "hybrid" form of GAZELLE (Juvekar, Vaikuntanathan,
// Chandrakasan, USENIX Security 2018) for out < in, followed by
// log2(in/out) rotate-and-add steps; only nonzero diagonals are kept and
// they are grouped baby-step/giant-step with hoisted baby rotations.
//
// Packed with Options.Replicate (lowest latency): one input per
// ciphertext, input position s holding the input rotated by s·g features
// (rotated by the client, in plaintext); the first layer then applies
// diagonal s·g+j in position s after a rotation by j, so one plaintext
// product covers S diagonals, and log2(S) rotations add the positions.
//
// Slots (throughput): CryptoNets' layout, one ciphertext per feature and
// one slot per input; dense layers are scalar multiply-adds, no rotations.
//
// Tokens (FFN block): one sentence per ciphertext, feature f of token t in
// slot f·S+t; W1 by the diagonal method in blocks of hidden units; W2, the
// mean over tokens and the classifier are linear and collapse into one
// masked product per class, summed over all slots (depth 3).
//
// Graphs: [CompileGraph] compiles a model graph (package graph, imported
// from ONNX and rewritten by package rewrite) in the Packed layout:
// convolutions on the input's grid with channels multiplexed into the gaps
// left by strides (Lee et al., ICML 2022) and channel-offset × kernel-offset
// diagonals (GAZELLE), average pooling by rotations, residual joins inside
// one linear step; [ModelFile] is its versioned .henn file and
// [LoadModel] reads and compiles one (graph.go, graphserver.go).
//
// Bootstrapping: a graph deeper than every modulus chain (or any graph
// with Options.Bootstrap) is compiled under a bootstrapping preset of
// package he; package levelplan places the bootstraps on its ciphertext
// steps (Orion's dynamic program, Ebel et al., arXiv 2311.03470), the
// client adds bootstrapping keys ([Client.BootstrapKeys], evaluation keys
// only) and [NewBootstrapServer] executes the plan; [Model.Bootstraps]
// lists where (bootstrap.go).
//
// Encoder: [CompileEncoder] evaluates a whole HE-friendly transformer
// encoder ([Encoder]: 2Quad attention with a fixed normaliser, affine
// normalisation, quadratic FFN activation) on one encrypted sentence:
// token-major blocks with each head's features interleaved and duplicated,
// attention as a Halevi–Shoup diagonal product of ciphertexts over the
// token shifts, the length known only to the client through an encrypted
// mask; 7 levels per layer and 1 for the pooling (encoder_he.go).
//
// Example:
//
//	m, _ := henn.Compile(net, henn.Options{Mode: henn.Packed})
//	client, _ := henn.NewClient(m.Params())
//	evk, _ := client.EvaluationKeys(m.Rotations()) // public: goes to the server
//	server, _ := henn.NewServer(m, evk)
//	in, _ := client.EncryptBatch(m.Layout(), images)
//	out, _ := server.Evaluate(in)
//	logits, _ := client.DecryptLogits(m.Layout(), out)
//
// or, in one call with timings and sizes, [Run] (Mode Auto: Slots batch
// plus a replicated Packed single-image latency) and [RunFFN].
package henn
