// Package npy reads and writes NumPy .npy arrays.
//
// The format is specified in NumPy's NEP 1 ("A simple file format for NumPy
// arrays", numpy/lib/format.py): a magic string, a version, a little-endian
// header length and a Python dict literal with the keys descr, fortran_order
// and shape, followed by the raw values. Read accepts versions 1–3,
// little-endian float16/32/64 and (u)int8–64 in C order, and returns float64
// values; it rejects Fortran order, big-endian data, truncated or oversized
// files with errors wrapping ErrFormat. Write and WriteFloat32 produce
// version-1 files that numpy.load reads.
package npy
