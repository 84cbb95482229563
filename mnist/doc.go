// Package mnist reads IDX files (the format of LeCun, Cortes & Burges' MNIST
// and of Zalando's Fashion-MNIST, Xiao, Rasul & Vollgraf 2017) and loads both
// datasets as float64 mini-batch matrices for package nn.
//
// IDX layout (http://yann.lecun.com/exdb/mnist/): a 4-byte magic number
// 0x00 0x00 TYPE NDIMS, NDIMS big-endian uint32 dimension sizes, then the
// data in row-major order. Only TYPE 0x08 (unsigned byte) is used by both
// datasets and is the only type accepted here. Files may be gzip-compressed;
// the reader detects this from the gzip magic bytes rather than the name.
//
// MNIST comes from the GoMNIST module zip (shareddata.MNIST) and
// Fashion-MNIST from Debian's dataset-fashion-mnist package
// (shareddata.FashionMNIST). Pixels are scaled to [0, 1].
package mnist
