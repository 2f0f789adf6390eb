// A reduce in float for four-channel pixels (RGBA premultiplied by its
// alpha, or RGB and a spare), streamed one output row at a time, as
// libvips 8.14's vips_resize makes it of a float image: a box shrink by
// the whole part of the factor over 2 (its gap), then Lanczos-3 for the
// rest, vertical first. The resample of pngreduce.c.
#ifndef IMGEDGE_REDUCEF_H
#define IMGEDGE_REDUCEF_H

// One axis: in pixels boxed k at a time into boxed (the last box repeats
// the edge), then output pixel i is the sum of taps boxed pixels from
// first[i] weighted by w[i * taps ...].
typedef struct {
	int in, k, boxed, out, taps;
	int *first;
	float *w;
} imgedge_faxis;

// imgedge_faxis_init lays out the reduce of in pixels to out by shrink
// (in / out as libvips computes it, 1 or more). -1: out of memory.
int imgedge_faxis_init(imgedge_faxis *a, int in, int out, double shrink);
void imgedge_faxis_free(imgedge_faxis *a);

// imgedge_faxis_sum adds weight times n four-channel pixels of row to acc.
void imgedge_faxis_sum(float *acc, const float *row, float weight, int n);

// imgedge_faxis_row reduces one vertically reduced row (h->in pixels)
// across into out (h->out pixels); boxed is scratch for h->boxed pixels.
// eight rounds the boxes to whole 8-bit values, as libvips' shrink of an
// 8-bit image does.
void imgedge_faxis_row(const float *row, const imgedge_faxis *h, float *boxed, float *out, int eight);

// imgedge_faxis_eight rounds n four-channel pixels to whole values in
// 0..255, as libvips stores each step of an 8-bit image.
void imgedge_faxis_eight(float *row, int n);

#endif
