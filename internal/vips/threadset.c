// libvips 8.14's threadset frees a worker that has waited 15 s for work,
// but the worker gives up its place on the free list only after it has
// timed out and taken the set's lock. In that window vips_threadset_run
// can take the same worker off the free list, write the task into it and
// post its semaphore: a write into freed memory (and a task that never
// runs). Upstream rewrote the threadset in 8.15.5 (9b126ddb9, "threadset:
// fix a race condition during thread exit"); Debian 12 ships 8.14.1.
//
// The only caller of vips_semaphore_down_timeout in libvips 8.14 is that
// idle wait, and libvips calls it through its PLT, so a definition in the
// executable takes its place. On a libvips that needs it, this one never
// times out: an idle worker waits for its next task and is never freed,
// which closes the window. The cost is that the worker threads stay at
// their high-water mark, which the node's slots bound.
#include <dlfcn.h>
#include <vips/vips.h>

#include "threadset.h"

typedef int (*down_timeout_fn)(VipsSemaphore *s, gint64 timeout);

static down_timeout_fn
real_down_timeout(void)
{
	static down_timeout_fn real;
	if (!real)
		real = (down_timeout_fn) dlsym(RTLD_NEXT, "vips_semaphore_down_timeout");
	return real;
}

int
imgedge_threadset_racy(void)
{
	// The race is in every libvips before 8.15.5.
	int major = vips_version(0), minor = vips_version(1), micro = vips_version(2);
	return major < 8 || (major == 8 && (minor < 15 || (minor == 15 && micro < 5)));
}

int
vips_semaphore_down_timeout(VipsSemaphore *s, gint64 timeout)
{
	if (imgedge_threadset_racy())
		return vips_semaphore_down(s);
	return real_down_timeout()(s, timeout);
}

int
imgedge_threadset_fixed(void)
{
	// libvips' own calls resolve through the global scope, as dlsym with
	// RTLD_DEFAULT does: if that finds this definition, so do they.
	return dlsym(RTLD_DEFAULT, "vips_semaphore_down_timeout") == (void *) vips_semaphore_down_timeout;
}

static gpointer
probe_post(gpointer data)
{
	// Post well after the waiter's timeout has passed.
	g_usleep(100 * 1000);
	vips_semaphore_up((VipsSemaphore *) data);
	return NULL;
}

int
imgedge_threadset_probe(long long timeout_us)
{
	// What libvips' idle worker sees: a wait, with a timeout, that no one
	// posts. Called through the global scope, as libvips calls it.
	down_timeout_fn wait = (down_timeout_fn) dlsym(RTLD_DEFAULT, "vips_semaphore_down_timeout");
	VipsSemaphore s;
	vips_semaphore_init(&s, 0, "probe");
	GThread *poster = g_thread_new("probe", probe_post, &s);
	int r = wait(&s, timeout_us);
	g_thread_join(poster);
	vips_semaphore_destroy(&s);
	return r;
}
