#define _GNU_SOURCE
#include <vips/vips.h>
#include <dlfcn.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>

/* The reproduction of libvips 8.14's threadset exit race (issue #18), run by
 * `make threadset-race`. It stands in for libvips' idle wait, as imgedge's
 * internal/vips/threadset.c does:
 *   mode 0: libvips as shipped (workers leave after 15 s idle);
 *   mode 3: workers leave after 1 ms idle, so the race that 15 s makes rare
 *           (a task handed to a worker that is leaving) happens in seconds;
 *   mode 1: as 3, and the leaving worker dawdles 200 us before it takes
 *           the set's lock;
 *   mode 2: idle workers never leave: imgedge's fix. */
static int mode;
static long timeouts;

int vips_semaphore_down_timeout(VipsSemaphore *s, gint64 timeout) {
	static int (*real)(VipsSemaphore *, gint64);
	if (!real) real = dlsym(RTLD_NEXT, "vips_semaphore_down_timeout");
	if (mode == 2) return vips_semaphore_down(s);
	if (mode == 1 || mode == 3) {
		int r = real(s, 1000);
		if (r == -1) { __atomic_add_fetch(&timeouts, 1, __ATOMIC_RELAXED); if (mode == 1) usleep(200); }
		return r;
	}
	return real(s, timeout);
}

static void *source;
static size_t source_len;

static void *job(void *p) {
	long n = (long) p;
	for (int i = 0; i < n; i++) {
		VipsImage *in = vips_image_new_from_buffer(source, source_len, "", NULL), *out;
		if (!in) { fprintf(stderr, "load: %s\n", vips_error_buffer()); exit(2); }
		if (vips_resize(in, &out, 0.1 + (i % 7) * 0.05, NULL)) { fprintf(stderr, "%s\n", vips_error_buffer()); exit(2); }
		void *buf; size_t len;
		if (vips_jpegsave_buffer(out, &buf, &len, NULL)) { fprintf(stderr, "%s\n", vips_error_buffer()); exit(2); }
		g_free(buf); g_object_unref(out); g_object_unref(in);
		usleep(rand() % 3000);
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 2) { fprintf(stderr, "usage: race MODE\n"); return 2; }
	mode = atoi(argv[1]);
	if (VIPS_INIT(argv[0])) return 1;
	vips_cache_set_max(0);
	VipsImage *black;
	if (vips_black(&black, 800, 600, "bands", 3, NULL) ||
		vips_jpegsave_buffer(black, &source, &source_len, NULL)) {
		fprintf(stderr, "%s\n", vips_error_buffer());
		return 2;
	}
	g_object_unref(black);
	pthread_t t[8];
	for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, job, (void *) 200L);
	for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
	printf("mode %d ok, %ld idle timeouts\n", mode, timeouts);
	return 0;
}
