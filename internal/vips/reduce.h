// A Lanczos-3 reduce in fixed point, streamed one output row at a time,
// for 8-bit RGBx pixels (the fourth byte ignored): the resample of
// jpegreduce.c.
#ifndef IMGEDGE_REDUCE_H
#define IMGEDGE_REDUCE_H

#include <stdint.h>

// An axis' reduce: output pixel i is the sum of taps input pixels from
// first[i], weighted by w[i * taps ...] (fixed point, summing to 1 << 14;
// taps is even, the last weight zero when the kernel has an odd count).
// pairs holds the same weights two by two, as the low and high halves of
// an int32.
typedef struct {
	int in, out, taps;
	int *first;
	int16_t *w;
	int32_t *pairs;
} imgedge_axis;

// imgedge_axis_init lays out the reduce of in pixels to out by shrink
// (in / out, as libvips computes it), 1 or more, the way libvips 8.14's
// vips_reduceh/vips_reducev sample: centres (i + 0.5) * shrink - 0.5,
// moved by half the pixels the rounding of out invents, and edge pixels
// repeated. Returns -1 when out of memory.
int imgedge_axis_init(imgedge_axis *a, int in, int out, double shrink);
void imgedge_axis_free(imgedge_axis *a);

// imgedge_reduce_rows sums the axis' taps rows for output row y into mid,
// n RGBx pixels of int16 with 6 fractional bits. rows are the input rows
// first[y] .. first[y] + taps - 1, n RGBx pixels each.
void imgedge_reduce_rows(uint8_t *const *rows, const imgedge_axis *v, int y, int n, int16_t *mid);

// imgedge_reduce_row reduces one row of mid (h->in pixels, and a spare
// one past the end, from imgedge_reduce_rows) across into out, h->out RGB
// pixels.
void imgedge_reduce_row(const int16_t *mid, const imgedge_axis *h, uint8_t *out);

// imgedge_kernel_points is how many input pixels libvips' Lanczos-3
// reduce by shrink spans: 2 * rint(3 * shrink) + 1, or 1 for no reduce.
int imgedge_kernel_points(double shrink);

// imgedge_kernel_weights sets tw[0 .. taps) to the normalised weights of
// output pixel i of a reduce of in pixels by shrink, extra being the
// pixels the rounding of the output size invents (out * shrink - in):
// libvips' centres, moved by half of extra, its points taps wide, taps
// past an edge added to the edge pixel. Returns the first input pixel.
int imgedge_kernel_weights(int in, double shrink, double extra, int points, int taps, int i, double *tw);

#endif
