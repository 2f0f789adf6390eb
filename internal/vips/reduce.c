#include "reduce.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define X86 1
#include <immintrin.h>
#endif

#define ONE (1 << 14) // weights' fixed point
#define MID_BITS 6    // fractional bits of the vertical sums
#define SHIFT (14 + MID_BITS)

// The kernel at 1/4096 steps from 0 to 3, interpolated: sin() for every
// tap of every request cost more than the reduce of a small output.
#define STEPS 4096
static double table[3 * STEPS + 2];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void
table_init(void)
{
	for (int i = 0; i <= 3 * STEPS + 1; i++) {
		double x = (double) i / STEPS;
		double px = M_PI * x;
		table[i] = i == 0 ? 1 : x >= 3 ? 0 : 3 * sin(px) * sin(px / 3) / (px * px);
	}
}

// lanczos3 is the kernel at x; the table is built by then.
static double
lanczos3(double x)
{
	x = fabs(x);
	if (x >= 3)
		return 0;
	double at = x * STEPS;
	int i = (int) at;
	return table[i] + (table[i + 1] - table[i]) * (at - i);
}

int
imgedge_kernel_points(double shrink)
{
	return shrink > 1 ? 2 * (int) rint(3 * shrink) + 1 : 1;
}

int
imgedge_kernel_weights(int in, double shrink, double extra, int points, int taps, int i, double *tw)
{
	pthread_once(&table_once, table_init);
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
	for (int k = 0; k < taps; k++)
		tw[k] /= sum;
	return f;
}

int
imgedge_axis_init(imgedge_axis *a, int in, int out, double shrink)
{
	// Taps never reach past the edges; an even count for the pairs.
	int points = imgedge_kernel_points(shrink);
	int taps = points < in ? points : in;
	taps += taps & 1;
	double extra = out * shrink - in;
	double *tw = malloc(sizeof(double) * taps);

	memset(a, 0, sizeof(*a));
	a->in = in;
	a->out = out;
	a->taps = taps;
	a->first = malloc(sizeof(int) * out);
	a->w = calloc((size_t) out * taps, sizeof(int16_t));
	a->pairs = calloc((size_t) out * taps / 2, sizeof(int32_t));
	if (!tw || !a->first || !a->w || !a->pairs) {
		free(tw);
		imgedge_axis_free(a);
		return -1;
	}
	for (int i = 0; i < out; i++) {
		int f = imgedge_kernel_weights(in, shrink, extra, points, taps, i, tw);
		int16_t *w = a->w + (size_t) i * taps;
		int isum = 0, big = 0;
		for (int k = 0; k < taps; k++) {
			w[k] = (int16_t) lrint(tw[k] * ONE);
			isum += w[k];
			if (tw[k] > tw[big])
				big = k;
		}
		w[big] += ONE - isum; // the rounding goes to the centre tap
		for (int k = 0; k < taps; k += 2)
			a->pairs[((size_t) i * taps + k) / 2] = (int32_t) ((uint16_t) w[k] | ((uint32_t) (uint16_t) w[k + 1] << 16));
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
	free(a->pairs);
	a->first = NULL;
	a->w = NULL;
	a->pairs = NULL;
}

void
imgedge_reduce_rows(uint8_t *const *rows, const imgedge_axis *v, int y, int n, int16_t *mid)
{
	const int taps = v->taps, m = 4 * n;
	const int16_t *w = v->w + (size_t) y * taps;
	int j = 0;

#ifdef X86
	// Eight samples at a time, two rows at a time: the samples of the
	// two rows interleaved as int16, times the two weights, summed in
	// pairs (pmaddwd), the sums kept in registers over every tap.
	const int32_t *pairs = v->pairs + (size_t) y * taps / 2;
	const __m128i zero = _mm_setzero_si128();
	for (; j + 8 <= m; j += 8) {
		__m128i lo = _mm_set1_epi32(1 << (13 - MID_BITS)), hi = lo;
		for (int k = 0; k < taps; k += 2) {
			__m128i a = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *) (rows[k] + j)), zero);
			__m128i b = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *) (rows[k + 1] + j)), zero);
			__m128i ww = _mm_set1_epi32(pairs[k / 2]);
			lo = _mm_add_epi32(lo, _mm_madd_epi16(_mm_unpacklo_epi16(a, b), ww));
			hi = _mm_add_epi32(hi, _mm_madd_epi16(_mm_unpackhi_epi16(a, b), ww));
		}
		lo = _mm_srai_epi32(lo, 14 - MID_BITS);
		hi = _mm_srai_epi32(hi, 14 - MID_BITS);
		_mm_storeu_si128((__m128i *) (mid + j), _mm_packs_epi32(lo, hi));
	}
#endif
	for (; j < m; j++) {
		int32_t acc = 1 << (13 - MID_BITS);
		for (int k = 0; k < taps; k++)
			acc += rows[k][j] * w[k];
		mid[j] = (int16_t) (acc >> (14 - MID_BITS));
	}
}

static inline uint8_t
clip(int32_t v)
{
	return v < 0 ? 0 : v > 255 ? 255 : (uint8_t) v;
}

#ifdef X86
// Two output pixels at a time, one in each half of a 256-bit register,
// two taps at a time: two RGBx pixels interleaved channel by channel,
// times the two weights, summed in pairs (pmaddwd).
__attribute__((target("avx2"))) static int
reduce_row_avx2(const int16_t *mid, const imgedge_axis *h, uint8_t *out)
{
	const int taps = h->taps;
	int x = 0;

	for (; x + 2 <= h->out; x += 2) {
		const int16_t *s0 = mid + 4 * h->first[x], *s1 = mid + 4 * h->first[x + 1];
		const int32_t *p0 = h->pairs + (size_t) x * taps / 2, *p1 = p0 + taps / 2;
		__m256i acc = _mm256_set1_epi32(1 << (SHIFT - 1));
		for (int k = 0; k < taps; k += 2) {
			__m256i v = _mm256_inserti128_si256(
				_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *) (s0 + 4 * k))),
				_mm_loadu_si128((const __m128i *) (s1 + 4 * k)), 1);
			__m256i pairs = _mm256_unpacklo_epi16(v, _mm256_srli_si256(v, 8));
			__m256i ww = _mm256_setr_epi32(p0[k / 2], p0[k / 2], p0[k / 2], p0[k / 2],
				p1[k / 2], p1[k / 2], p1[k / 2], p1[k / 2]);
			acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ww));
		}
		acc = _mm256_srai_epi32(acc, SHIFT);
		__m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
		__m128i p8 = _mm_packus_epi16(p16, p16);
		uint64_t px = (uint64_t) _mm_cvtsi128_si64(p8);
		out[3 * x] = (uint8_t) px;
		out[3 * x + 1] = (uint8_t) (px >> 8);
		out[3 * x + 2] = (uint8_t) (px >> 16);
		out[3 * x + 3] = (uint8_t) (px >> 32);
		out[3 * x + 4] = (uint8_t) (px >> 40);
		out[3 * x + 5] = (uint8_t) (px >> 48);
	}
	return x;
}
#endif

void
imgedge_reduce_row(const int16_t *mid, const imgedge_axis *h, uint8_t *out)
{
	const int taps = h->taps;
	int x = 0;

#ifdef X86
	if (__builtin_cpu_supports("avx2"))
		x = reduce_row_avx2(mid, h, out);
	for (; x < h->out; x++) {
		const int16_t *s = mid + 4 * h->first[x];
		const int32_t *p = h->pairs + (size_t) x * taps / 2;
		__m128i acc = _mm_set1_epi32(1 << (SHIFT - 1));
		for (int k = 0; k < taps; k += 2) {
			__m128i v = _mm_loadu_si128((const __m128i *) (s + 4 * k));
			__m128i pairs = _mm_unpacklo_epi16(v, _mm_srli_si128(v, 8));
			acc = _mm_add_epi32(acc, _mm_madd_epi16(pairs, _mm_set1_epi32(p[k / 2])));
		}
		acc = _mm_srai_epi32(acc, SHIFT);
		__m128i p16 = _mm_packs_epi32(acc, acc);
		uint32_t px = (uint32_t) _mm_cvtsi128_si32(_mm_packus_epi16(p16, p16));
		out[3 * x] = (uint8_t) px;
		out[3 * x + 1] = (uint8_t) (px >> 8);
		out[3 * x + 2] = (uint8_t) (px >> 16);
	}
#else
	for (; x < h->out; x++) {
		const int16_t *s = mid + 4 * h->first[x];
		const int16_t *w = h->w + (size_t) x * taps;
		int32_t r = 1 << (SHIFT - 1), g = r, b = r;
		for (int k = 0; k < taps; k++) {
			r += s[4 * k] * w[k];
			g += s[4 * k + 1] * w[k];
			b += s[4 * k + 2] * w[k];
		}
		out[3 * x] = clip(r >> SHIFT);
		out[3 * x + 1] = clip(g >> SHIFT);
		out[3 * x + 2] = clip(b >> SHIFT);
	}
#endif
}
