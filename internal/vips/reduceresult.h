// What a decode straight into a reduce did (jpegreduce.c, pngreduce.c).
#ifndef IMGEDGE_REDUCERESULT_H
#define IMGEDGE_REDUCERESULT_H

#include <stddef.h>
#include <vips/vips.h>

typedef enum {
	IMGEDGE_REDUCED = 0,  // *out is the resized image
	IMGEDGE_DECLINED = 1, // not a source it reads, or the decoder warned: use libvips
	IMGEDGE_STOPPED = -1, // stop's kill flag was set
} imgedge_reduce_result;

#endif
