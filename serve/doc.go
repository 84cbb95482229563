// Package serve exposes a compiled henn model over HTTP for encrypted
// inference, and is the matching client.
//
// The server holds the plaintext weights and, per session, a client's public
// evaluation keys (he.EvaluationKeys: parameters, public key,
// relinearization and Galois keys). It never holds a secret key: package he
// has no way to serialize one (he.KeyOwner has no export method), and the
// only key material this package reads is he.ReadEvaluationKeys' versioned
// frame, so any other body is rejected with 400. The client (Client,
// Session) makes its own henn.Client from the parameters the server
// publishes; its secret key never leaves the process.
//
// Endpoints (net/http, Go 1.22 patterns):
//
//	GET  /v1/model               JSON ModelInfo: parameters, layout, rotations
//	POST /v1/session             body: he.EvaluationKeys.WriteTo; JSON {"id": ...}
//	POST /v1/session/{id}/infer  body: henn.Ciphertexts.WriteTo; body: the output batch
//
// The same Handler serves a transformer encoder (NewEncoder, a
// henn.EncoderModel; Client.NewEncoderSession): ModelInfo then carries the
// encoder's public shape, a request one group of two ciphertexts (token
// matrix, length mask) per sentence. Its diagonals are encoded once
// (henn.EncoderWeights) and shared by every session's henn.EncoderServer,
// so a session holds its evaluation keys only, as with a network.
//
// What the server learns: the parameters and rotations (public), the number
// of ciphertexts and inputs in a batch, and timing. It never sees an input,
// a logit or a secret key. This is the semi-honest setting of CryptoNets
// (Gilad-Bachrach et al., ICML 2016); the client learns the logits, and
// nothing here hides the model from a client who queries it many times.
//
// See docs/serve.md for the wire formats and measured sizes.
package serve
