// Package nn trains small image classifiers with hand-written forward and
// backward passes over gonum, with ReLU or polynomial activations, so that a
// trained model can be evaluated under CKKS homomorphic encryption (package
// henn) with the same weights.
//
// # Numbers
//
// Everything is float64. gonum/mat, whose Dense products go to gonum's
// blocked, goroutine-parallel Dgemm, is float64 only; a float32 path would
// mean hand-calling blas32 for every product and losing mat's slicing.
// float64 also keeps the finite-difference gradient checks meaningful (a
// central difference with step 1e-5 needs ~1e-10 relative precision), and
// CKKS encodes float64 (complex128) values anyway, so the exported model is
// bit-identical to the trained one. At MNIST sizes float64 costs nothing that
// matters: one MLP epoch over 60,000 images is a few seconds on 2 cores.
//
// Every layer works on a whole mini-batch (one image per row), so the cost
// is a handful of matrix products per batch, never a per-sample loop.
//
// # Layers
//
//   - Dense: y = x·W + b, W is in×out, He initialisation.
//   - Conv: a 2-D convolution over HWC images by im2col (Chellapilla,
//     Puri & Simard 2006): the patches of a batch become the rows of one
//     matrix, so the convolution is a single product. For encrypted
//     evaluation it is expanded into the equivalent dense matrix.
//   - Act: ReLU, or any polynomial approx.Poly (a fitted activation read from
//     the approx engine's JSON), in the power basis.
//
// Loss is softmax cross-entropy, the optimiser Adam (Kingma & Ba 2015).
// Training uses seeded shuffling, mini-batches, early stopping on a
// validation split (keeping the best weights) and an optional gradient-norm
// clip, which polynomial activations need: x² and its relatives have
// unbounded derivatives and a single bad batch can otherwise blow up.
//
// Three options lift the 784-128-10 MLP on MNIST by about 0.8 points
// (docs/nn.md): a cosine learning-rate schedule without restarts
// (Loshchilov & Hutter, "SGDR", ICLR 2017), decoupled weight decay
// (Loshchilov & Hutter, "Decoupled weight decay regularization", ICLR 2019)
// and random shifts of the training images by a few pixels (Shifter;
// Simard, Steinkraus & Platt, ICDAR 2003). None of them changes the model,
// so the encrypted evaluator runs the result unchanged.
//
// # Checkpoints
//
// A checkpoint (format version 2) is, in order:
//
//	magic   8 bytes  "KRELUNN\x00"
//	version uint32 little-endian, = 2 (Load also reads 1)
//	hlen    uint32 little-endian, length of the header
//	header  hlen bytes of JSON: {"arch", "task", "input_dim", "input_shape",
//	        "preprocess", "layers": [...]}
//	        each layer {"type": "dense"|"conv"|"act", sizes, "poly": [...]}
//	params  float64 little-endian, layer by layer (W then b), in header order
//	crc     uint32 little-endian, IEEE CRC-32 of everything before it
//
// The header fully describes the architecture, so Load rebuilds the network
// without any other input, and LoadInto refuses a checkpoint whose layers
// differ from the receiving network's. Task, input shape and preprocessing
// (version 2; version 1 has at most the task) say which data the model was
// trained for: Network.CheckTask refuses any other.
//
// # Decision-aware quadratic
//
// DecisionAware implements the competitor of Li, Wu & Miao (arXiv
// 2605.22237): one shared quadratic αu²+βu+η per activation layer, chosen so
// that the swapped model keeps the ReLU model's decisions on a calibration
// set with maximum margin. The program and its solvers belong to package
// approx (approx.FitDecisionAware), which package rewrite also uses for
// imported graphs; DecisionAware supplies nn's forward pass.
package nn
