#include "webpsave.h"

#include <string.h>
#include <webp/encode.h>

// libvips 8.14's webpsave writes an EXIF chunk (resolution, size) even
// when told to strip: about 200 bytes, a twentieth of a small thumbnail,
// and its mux pass costs time too. A still image without metadata is
// encoded here instead, with the configuration vips_webpsave builds
// (the default preset at Q, alpha at full quality, method = effort), so
// the image data is the same and only the EXIF chunk is gone.

int
imgedge_webp_plain(VipsImage *in)
{
	return in->BandFmt == VIPS_FORMAT_UCHAR &&
		in->Coding == VIPS_CODING_NONE &&
		in->Type == VIPS_INTERPRETATION_sRGB &&
		(in->Bands == 3 || in->Bands == 4) &&
		vips_image_get_page_height(in) == in->Ysize;
}

int
imgedge_webp_save(VipsImage *in, int quality, int effort, void **buf, size_t *len)
{
	WebPConfig config;
	WebPPicture pic;
	WebPMemoryWriter writer;
	size_t size;
	int ok;

	// Evaluating in runs its pipeline, stoppable by the kill flag as any
	// sink is.
	VipsPel *pixels = vips_image_write_to_memory(in, &size);
	if (!pixels)
		return -1;
	if (!WebPConfigPreset(&config, WEBP_PRESET_DEFAULT, quality) || !WebPPictureInit(&pic)) {
		g_free(pixels);
		vips_error("webpsave", "libwebp version mismatch");
		return -1;
	}
	config.alpha_quality = 100;
	config.method = effort;
	pic.width = in->Xsize;
	pic.height = in->Ysize;
	pic.use_argb = 0;
	WebPMemoryWriterInit(&writer);
	pic.writer = WebPMemoryWrite;
	pic.custom_ptr = &writer;
	ok = WebPValidateConfig(&config) &&
		(in->Bands == 4 ? WebPPictureImportRGBA(&pic, pixels, in->Xsize * 4)
				: WebPPictureImportRGB(&pic, pixels, in->Xsize * 3)) &&
		WebPEncode(&config, &pic);
	WebPEncodingError error = pic.error_code;
	WebPPictureFree(&pic);
	g_free(pixels);
	if (!ok) {
		WebPMemoryWriterClear(&writer);
		vips_error("webpsave", "libwebp could not encode the image (error %d)", error);
		return -1;
	}
	// The caller frees with g_free: copy out of libwebp's allocation.
	*buf = g_memdup2(writer.mem, writer.size);
	*len = writer.size;
	WebPMemoryWriterClear(&writer);
	return 0;
}
