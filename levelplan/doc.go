// Package levelplan decides where an encrypted network bootstraps and at
// which CKKS level each layer runs.
//
// A network is a list of operations in topological order, each consuming
// a number of levels (its multiplicative depth). A ciphertext's level only
// goes down: an operation of depth d needs an input at level ≥ d and leaves
// its output d levels lower, dropping levels is free, and a bootstrap
// raises a ciphertext to a fixed level at a large fixed cost. Since the
// cost of an operation grows with the level it runs at (key switching
// works on every limb of the modulus), the cheapest plan also runs every
// layer as low as it can.
//
// [Plan] minimises the number of bootstraps and then the predicted
// latency, exactly, by dynamic programming over the levels — the
// shortest-path formulation of Orion (Ebel, Garimella, Reagen, "Orion: A
// Fully Homomorphic Encryption Framework for Deep Learning", arXiv
// 2311.03470, §5), where nodes are (layer, level) pairs and edges are
// "run the layer" or "bootstrap". Residual networks are handled as Orion
// does, by treating each residual block as one edge whose cost is the
// best joint plan of its two branches: the networks accepted are
// series-parallel (every fork rejoins at one two-input join before the
// next fork outside it), the two branches' output levels are aligned at
// the join by dropping the higher one, and a bootstrap placed just before
// a fork is paid once for both branches.
//
// The package is pure Go and knows nothing of CKKS libraries: callers give
// depths and a cost model (seconds per operation at each level, seconds
// per bootstrap), e.g. measured with package he.
package levelplan
