// Package optim holds krelu's one gradient-descent optimiser, Adam, shared
// by every trainer in the module (the MLP/CNN trainer in nn, the
// transformer, the Llama-2 distillation in llama2c).
//
// Parameters are handed over as flat float64 slices (values and gradients of
// the same length), so each trainer keeps its own parameter type.
package optim
