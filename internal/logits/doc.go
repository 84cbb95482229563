// Package logits holds the two operations every classifier and language
// model in krelu applies to a vector of scores: the arg-max (the predicted
// class or greedy token) and the softmax (probabilities), each written
// once so that ties and overflow are handled the same way everywhere.
package logits
