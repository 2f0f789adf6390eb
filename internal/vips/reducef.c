#include "reducef.h"
#include "reduce.h" // the kernel

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <xmmintrin.h>
#define WIDE_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define WIDE_LOOP
#endif


int
imgedge_faxis_init(imgedge_faxis *a, int in, int out, double shrink)
{
	// vips_reduceh/vips_reducev: the box shrink first, then the rest,
	// its centres moved by the share of the pixels the rounding of out
	// invents.
	double extra = out * shrink - in;
	int k = shrink > 1 ? (int) floor((double) in / out / 2) : 1;

	k = k > 1 ? k : 1;
	shrink /= k;
	extra /= k;
	memset(a, 0, sizeof(*a));
	a->in = in;
	a->k = k;
	a->boxed = (in + k - 1) / k;
	a->out = out;
	int points = imgedge_kernel_points(shrink);
	int taps = points < a->boxed ? points : a->boxed;
	a->taps = taps;
	a->first = malloc(sizeof(int) * out);
	a->w = calloc((size_t) out * taps, sizeof(float));
	double *tw = malloc(sizeof(double) * taps);
	if (!tw || !a->first || !a->w) {
		free(tw);
		imgedge_faxis_free(a);
		return -1;
	}
	for (int i = 0; i < out; i++) {
		a->first[i] = imgedge_kernel_weights(a->boxed, shrink, extra, points, taps, i, tw);
		for (int t = 0; t < taps; t++)
			a->w[(size_t) i * taps + t] = (float) tw[t];
	}
	free(tw);
	return 0;
}

void
imgedge_faxis_free(imgedge_faxis *a)
{
	free(a->first);
	free(a->w);
	a->first = NULL;
	a->w = NULL;
}

WIDE_LOOP void
imgedge_faxis_sum(float *acc, const float *row, float weight, int n)
{
	for (int j = 0; j < 4 * n; j++)
		acc[j] += row[j] * weight;
}

void
imgedge_faxis_eight(float *row, int n)
{
	for (int j = 0; j < 4 * n; j++) {
		float v = floorf(row[j] + 0.5f);
		row[j] = v < 0 ? 0 : v > 255 ? 255 : v;
	}
}

void
imgedge_faxis_row(const float *row, const imgedge_faxis *h, float *boxed, float *out, int eight)
{
	const float *src = row;

	if (h->k > 1) {
		const int k = h->k;
		const float scale = 1.0f / k;
		for (int b = 0; b < h->boxed; b++) {
			float s[4] = { 0, 0, 0, 0 };
			for (int i = 0; i < k; i++) {
				int x = b * k + i;
				const float *p = row + 4 * (x < h->in ? x : h->in - 1);
				for (int c = 0; c < 4; c++)
					s[c] += p[c];
			}
			for (int c = 0; c < 4; c++)
				boxed[4 * b + c] = s[c] * scale;
		}
		if (eight)
			imgedge_faxis_eight(boxed, h->boxed);
		src = boxed;
	}
	for (int x = 0; x < h->out; x++) {
		const float *p = src + 4 * h->first[x];
		const float *w = h->w + (size_t) x * h->taps;
#if defined(__x86_64__) && defined(__GNUC__)
		__m128 s = _mm_setzero_ps();
		for (int t = 0; t < h->taps; t++)
			s = _mm_add_ps(s, _mm_mul_ps(_mm_loadu_ps(p + 4 * t), _mm_set1_ps(w[t])));
		_mm_storeu_ps(out + 4 * x, s);
#else
		float s[4] = { 0, 0, 0, 0 };
		for (int t = 0; t < h->taps; t++)
			for (int c = 0; c < 4; c++)
				s[c] += p[4 * t + c] * w[t];
		for (int c = 0; c < 4; c++)
			out[4 * x + c] = s[c];
#endif
	}
}
