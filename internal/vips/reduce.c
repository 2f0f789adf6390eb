#include "reduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <emmintrin.h>
// The vertical sum is a plain loop the compiler vectorises; AVX2, where
// the CPU has it, doubles its width.
#define WIDE_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define WIDE_LOOP
#endif

#define ONE (1 << 14) // weights' fixed point
#define MID_BITS 6    // fractional bits of the vertical sums

static double
lanczos3(double x)
{
	if (x == 0)
		return 1;
	if (x <= -3 || x >= 3)
		return 0;
	double px = M_PI * x;
	return 3 * sin(px) * sin(px / 3) / (px * px);
}

int
imgedge_axis_init(imgedge_axis *a, int in, int out, double shrink, int pad)
{
	// libvips: n_point = 2 * rint(3 * shrink) + 1 taps; none past the edges.
	int points = shrink > 1 ? 2 * (int) rint(3 * shrink) + 1 : 1;
	int taps = points < in ? points : in;
	taps = (taps + pad - 1) / pad * pad;
	double extra = out * shrink - in;
	double *tw = malloc(sizeof(double) * taps);

	memset(a, 0, sizeof(*a));
	a->in = in;
	a->out = out;
	a->taps = taps;
	a->first = malloc(sizeof(int) * out);
	a->w = calloc((size_t) out * taps, sizeof(int16_t));
	if (!tw || !a->first || !a->w) {
		free(tw);
		imgedge_axis_free(a);
		return -1;
	}
	for (int i = 0; i < out; i++) {
		double c = (i + 0.5) * shrink - 0.5 - extra / 2;
		int lo = shrink > 1 ? (int) floor(c - 3 * shrink) + 1 : (int) rint(c);
		int f = lo + taps > in ? in - taps : lo;
		double sum = 0;

		f = f < 0 ? 0 : f;
		memset(tw, 0, sizeof(double) * taps);
		for (int p = lo; p < lo + points; p++) {
			double v = shrink > 1 ? lanczos3((p - c) / shrink) : 1;
			int at = p < 0 ? 0 : p >= in ? in - 1 : p; // edges repeat
			tw[at - f] += v;
			sum += v;
		}
		int16_t *w = a->w + (size_t) i * taps;
		int isum = 0, big = 0;
		for (int k = 0; k < taps; k++) {
			w[k] = (int16_t) lrint(tw[k] / sum * ONE);
			isum += w[k];
			if (tw[k] > tw[big])
				big = k;
		}
		w[big] += ONE - isum; // the rounding goes to the centre tap
		a->first[i] = f;
	}
	free(tw);
	return 0;
}

void
imgedge_axis_free(imgedge_axis *a)
{
	free(a->first);
	free(a->w);
	a->first = NULL;
	a->w = NULL;
}

WIDE_LOOP void
imgedge_reduce_rows(uint8_t *const *rows, const imgedge_axis *v, int y, int n,
	int16_t *mid, int32_t *acc)
{
	const int16_t *w = v->w + (size_t) y * v->taps;
	const int m = 3 * n;

	for (int j = 0; j < m; j++)
		acc[j] = 1 << (13 - MID_BITS);
	for (int k = 0; k < v->taps; k++) {
		const uint8_t *r = rows[k];
		const int32_t wk = w[k];
		if (wk == 0)
			continue;
		for (int j = 0; j < m; j++)
			acc[j] += r[j] * wk;
	}
	for (int x = 0; x < n; x++) {
		mid[4 * x] = (int16_t) (acc[3 * x] >> (14 - MID_BITS));
		mid[4 * x + 1] = (int16_t) (acc[3 * x + 1] >> (14 - MID_BITS));
		mid[4 * x + 2] = (int16_t) (acc[3 * x + 2] >> (14 - MID_BITS));
	}
}

#define SHIFT (14 + MID_BITS)

static inline uint8_t
clip(int32_t v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t) v;
}

void
imgedge_reduce_row(const int16_t *mid, const imgedge_axis *h, uint8_t *out)
{
	const int taps = h->taps;

	for (int x = 0; x < h->out; x++) {
		const int16_t *s = mid + 4 * h->first[x];
		const int16_t *w = h->w + (size_t) x * taps;
#if defined(__x86_64__) && defined(__GNUC__)
		// Two taps at a time: two RGBx pixels, interleaved channel by
		// channel, times the two weights, summed in pairs (pmaddwd).
		__m128i acc = _mm_set1_epi32(1 << (SHIFT - 1));
		for (int k = 0; k < taps; k += 2) {
			__m128i v = _mm_loadu_si128((const __m128i *) (s + 4 * k));
			__m128i pairs = _mm_unpacklo_epi16(v, _mm_srli_si128(v, 8));
			__m128i ww = _mm_set1_epi32((int) ((uint16_t) w[k] | ((uint32_t) (uint16_t) w[k + 1] << 16)));
			acc = _mm_add_epi32(acc, _mm_madd_epi16(pairs, ww));
		}
		acc = _mm_srai_epi32(acc, SHIFT);
		__m128i p16 = _mm_packs_epi32(acc, acc);
		uint32_t px = (uint32_t) _mm_cvtsi128_si32(_mm_packus_epi16(p16, p16));
		out[3 * x] = (uint8_t) px;
		out[3 * x + 1] = (uint8_t) (px >> 8);
		out[3 * x + 2] = (uint8_t) (px >> 16);
#else
		int32_t r = 1 << (SHIFT - 1), g = r, b = r;
		for (int k = 0; k < taps; k++) {
			r += s[4 * k] * w[k];
			g += s[4 * k + 1] * w[k];
			b += s[4 * k + 2] * w[k];
		}
		out[3 * x] = clip(r >> SHIFT);
		out[3 * x + 1] = clip(g >> SHIFT);
		out[3 * x + 2] = clip(b >> SHIFT);
#endif
	}
}
