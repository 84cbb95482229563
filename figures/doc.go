// Package figures draws the plots of krelu with gonum.org/v1/plot: a fitted
// activation against ReLU together with its error over the interval, the
// RMSE-versus-maximum-error trade-off of the kernel bandwidth (the picture
// behind the kernel-smoothed fits of arXiv 2605.23641), and histograms of
// calibration data.
//
// Every function writes one file whose format follows the extension of
// path: ".png" (raster, 150 dpi) or ".svg" (vector). Inputs are validated
// first, so a bad curve or an unknown extension is an error and no file is
// written.
package figures
