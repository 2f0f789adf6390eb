// Package vips is imgedge's only cgo: a small, explicit surface over libvips
// 8.14 for reading an image header, resizing with vips_thumbnail (one decode,
// shrink-on-load, EXIF auto-rotation, colour management to sRGB) and encoding.
//
// libvips itself is started by github.com/h2non/bimg's package initialiser;
// this package then tightens it for a server that decodes untrusted bytes:
// the operation cache is off and every loader but the supported formats is
// blocked.
//
// An *Image owns a libvips reference. Every operation consumes its receiver
// and returns a new Image, so a pipeline reads as a chain of steps and each
// intermediate is released exactly once; Close releases the last one.
//
// libvips computes lazily: decoding and every step run on its worker
// threads while Save encodes. Two rules keep that safe. No Go memory is
// lent to libvips past a call: Thumbnail copies the source into a blob
// that libvips owns and frees with its last reference. And an evaluation
// is stopped (timeout, cancellation) only by setting the kill flag of an
// image upstream of the encoder, from Go, under a lock that Save takes
// back before it releases the image: no signal handler, no C state on a
// stack, nothing that outlives the call.
package vips

/*
#cgo pkg-config: vips libwebp
#cgo CFLAGS: -O3
#cgo LDFLAGS: -lm
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/h2non/bimg"

	"github.com/imgedge/imgedge/transform"
)

// Format is the image format, shared with the plain-Go side.
type Format = transform.Format

// Version is the libvips version in use, e.g. "8.14.1".
var Version = bimg.VipsVersion

// ErrUnsupported is returned for bytes that no allowed loader takes.
var ErrUnsupported = errors.New("unsupported image format")

func init() {
	// bimg's init has already called vips_init.
	C.imgedge_setup()
}

// Header is what a source's header says, read without decoding pixels.
type Header struct {
	Format      Format
	Width       int // of the first page, before orientation
	Height      int // of one page
	Pages       int // frames of an animation, else 1
	Orientation int // EXIF orientation 1..8
	HasAlpha    bool
	HasICC      bool
	Bands       int     // colour and alpha bands
	Depth       int     // bits per sample
	ColourModel string  // RGB, Gray or CMYK
	XRes, YRes  float64 // libvips' own: pixels per millimetre, 1 when unknown
}

// OrientedSize is the size of one page once EXIF orientation is applied.
func (h Header) OrientedSize() (w, h2 int) {
	if h.Orientation >= 5 && h.Orientation <= 8 {
		return h.Height, h.Width
	}
	return h.Width, h.Height
}

// ReadHeader reads the header of an encoded image. It fails with
// ErrUnsupported when no allowed loader recognises the bytes.
func ReadHeader(buf []byte) (Header, error) {
	if len(buf) == 0 {
		return Header{}, ErrUnsupported
	}
	var pin runtime.Pinner
	pin.Pin(&buf[0])
	defer pin.Unpin()
	defer C.vips_error_clear()

	var h C.imgedge_header
	if C.imgedge_header_read(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &h) != 0 {
		// No loader, or one for a format imgedge does not read (its
		// loader blocked): unsupported. A loader of a format it reads
		// that fails: a broken image.
		if h.loader == nil || loaderFormat(C.GoString(h.loader)) == transform.FormatUnknown {
			return Header{}, ErrUnsupported
		}
		return Header{}, lastError("read header")
	}
	// Opened with one page, the image is one page tall; n-pages still
	// counts every frame in the file.
	pages := max(1, int(h.pages))
	pageHeight := int(h.height)
	if ph := int(h.page_height); ph > 0 && ph < pageHeight {
		pageHeight = ph
	}
	return Header{
		Format:      sniff(loaderFormat(C.GoString(h.loader)), buf),
		Width:       int(h.width),
		Height:      pageHeight,
		Pages:       pages,
		Orientation: int(h.orientation),
		HasAlpha:    h.has_alpha != 0,
		HasICC:      h.has_icc != 0,
		Bands:       int(h.bands),
		Depth:       int(h.depth),
		ColourModel: colourModel(int(h.interpretation), int(h.bands), h.has_alpha != 0),
		XRes:        float64(h.xres),
		YRes:        float64(h.yres),
	}, nil
}

// colourModel names an interpretation as imgix's JSON does.
func colourModel(interpretation, bands int, alpha bool) string {
	colour := bands
	if alpha {
		colour--
	}
	switch {
	case interpretation == C.VIPS_INTERPRETATION_CMYK || colour == 4:
		return "CMYK"
	case colour <= 2:
		return "Gray"
	}
	return "RGB"
}

// DPI is the resolution in dots per inch, rounded to a hundredth; 0 when
// the file gives none.
func (h Header) DPI() (x, y float64) { return dpi(h.XRes), dpi(h.YRes) }

// dpi turns libvips' pixels per millimetre into dots per inch, rounded to
// a hundredth; libvips' default of 1 px/mm (no resolution in the file) is
// unknown.
func dpi(pxPerMM float64) float64 {
	if pxPerMM <= 1 {
		return 0
	}
	return math.Round(pxPerMM*25.4*100) / 100
}

// sniff tells AVIF from other HEIF files, which share a loader, by the
// brand of the ISO BMFF ftyp box.
func sniff(f Format, buf []byte) Format {
	if f == transform.HEIF && len(buf) >= 12 && string(buf[4:8]) == "ftyp" {
		if brand := string(buf[8:12]); brand == "avif" || brand == "avis" {
			return transform.AVIF
		}
	}
	return f
}

func loaderFormat(loader string) Format {
	l := strings.ToLower(loader)
	switch {
	case strings.Contains(l, "jpeg"):
		return transform.JPEG
	case strings.Contains(l, "png"):
		return transform.PNG
	case strings.Contains(l, "webp"):
		return transform.WEBP
	case strings.Contains(l, "gif"):
		return transform.GIF
	case strings.Contains(l, "heif"):
		return transform.HEIF // AVIF and HEIC share a loader; see Sniff
	case strings.Contains(l, "tiff"):
		return transform.TIFF
	case strings.Contains(l, "svg"):
		return transform.SVG
	}
	return transform.FormatUnknown
}

// vipsSize is the VipsSize for a resize mode. The mapping is explicit:
// transform's numbering is its own.
func vipsSize(r transform.Resize) C.int {
	switch r {
	case transform.ResizeDown:
		return C.VIPS_SIZE_DOWN
	case transform.ResizeForce:
		return C.VIPS_SIZE_FORCE
	}
	return C.VIPS_SIZE_BOTH
}

// Image is a libvips image in a pipeline.
type Image struct {
	im *C.VipsImage
}

// ThumbnailOptions configure Thumbnail.
type ThumbnailOptions struct {
	Width, Height int // box; transform.Unbounded for a free side
	Resize        transform.Resize
	Smart         bool // crop to the box around the most interesting region
	AllPages      bool // load every frame of an animation
	ToSRGB        bool // colour-manage with the embedded profile into sRGB
	// JPEGShrink, for a JPEG source, is the factor (2, 4 or 8) to shrink
	// it by as it is decoded, where vips_thumbnail would choose half of
	// what the resize allows; 0 or 1 leaves the choice to vips_thumbnail.
	JPEGShrink int
	// Region, when set, is the part of the source to use, in pixels of
	// its upright first page: the rest is cut away before the resize. It
	// reads the first frame only.
	Region *transform.Rect
	// Upright says the source is stored upright (EXIF orientation 1 or
	// none): a region is then read top to bottom, not decoded whole.
	Upright bool
}

// Thumbnail loads buf and resizes it in one pass: the decoder shrinks on load
// where it can (JPEG, WebP, HEIF, SVG), EXIF orientation is applied, and the
// result is sRGB. The bytes are copied: buf is free to change or go once
// Thumbnail returns.
func Thumbnail(buf []byte, o ThumbnailOptions) (*Image, error) {
	if len(buf) == 0 {
		return nil, ErrUnsupported
	}
	var profile *C.char
	if o.ToSRGB {
		profile = C.CString("srgb")
		defer C.free(unsafe.Pointer(profile))
	}
	crop := C.int(C.VIPS_INTERESTING_NONE)
	if o.Smart {
		crop = C.VIPS_INTERESTING_ATTENTION
	}
	var out *C.VipsImage
	var rc C.int
	if o.Region != nil || o.JPEGShrink > 1 {
		var r transform.Rect
		if o.Region != nil {
			r = *o.Region
		}
		rc = C.imgedge_thumbnail_loaded(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &out,
			C.int(o.Width), C.int(o.Height), vipsSize(o.Resize), crop, profile, C.int(o.JPEGShrink),
			C.int(r.X), C.int(r.Y), C.int(r.W), C.int(r.H), cbool(o.Upright))
	} else {
		rc = C.imgedge_thumbnail(unsafe.Pointer(&buf[0]), C.size_t(len(buf)), &out,
			C.int(o.Width), C.int(o.Height), vipsSize(o.Resize), crop, cbool(o.AllPages), profile)
	}
	if rc != 0 {
		return nil, lastError("thumbnail")
	}
	return &Image{im: out}, nil
}

// Width of the image in pixels.
func (i *Image) Width() int { return int(i.im.Xsize) }

// Height of the image in pixels (all pages of an animation).
func (i *Image) Height() int { return int(i.im.Ysize) }

// Bands is the number of bands, alpha included.
func (i *Image) Bands() int { return int(i.im.Bands) }

// PageHeight is the height of one frame.
func (i *Image) PageHeight() int { return int(C.imgedge_page_height(i.im)) }

// HasAlpha reports whether the image has an alpha channel.
func (i *Image) HasAlpha() bool { return C.imgedge_has_alpha(i.im) != 0 }

// Close releases the image. It is safe to call more than once.
func (i *Image) Close() {
	if i == nil || i.im == nil {
		return
	}
	C.g_object_unref(C.gpointer(i.im))
	i.im = nil
}

// step replaces the image with out, or closes it and reports the error.
func (i *Image) step(what string, rc C.int, out *C.VipsImage) (*Image, error) {
	if rc != 0 {
		err := lastError(what)
		i.Close()
		return nil, err
	}
	C.g_object_unref(C.gpointer(i.im))
	i.im = out
	return i, nil
}

// Extract crops to the rectangle.
func (i *Image) Extract(left, top, width, height int) (*Image, error) {
	var out *C.VipsImage
	return i.step("extract", C.imgedge_extract(i.im, &out, C.int(left), C.int(top), C.int(width), C.int(height)), out)
}

// ExtractFrames crops every frame of an animation to the same rectangle,
// given in the coordinates of one frame.
func (i *Image) ExtractFrames(left, top, width, height int) (*Image, error) {
	var out *C.VipsImage
	return i.step("extract frames", C.imgedge_extract_pages(i.im, &out, C.int(left), C.int(top), C.int(width), C.int(height)), out)
}

// RGBA is a colour with 8-bit channels.
type RGBA struct{ R, G, B, A uint8 }

// Embed places the image at (left, top) in a width x height canvas of bg.
func (i *Image) Embed(left, top, width, height int, bg RGBA) (*Image, error) {
	var out *C.VipsImage
	return i.step("embed", C.imgedge_embed(i.im, &out, C.int(left), C.int(top), C.int(width), C.int(height),
		C.double(bg.R), C.double(bg.G), C.double(bg.B), C.double(bg.A)), out)
}

// Flatten removes alpha by blending onto bg.
func (i *Image) Flatten(bg RGBA) (*Image, error) {
	var out *C.VipsImage
	return i.step("flatten", C.imgedge_flatten(i.im, &out, C.double(bg.R), C.double(bg.G), C.double(bg.B)), out)
}

// Blur applies a Gaussian blur of the given sigma. With shrink above 1,
// the blur, at sigma, runs on the image shrunk by that factor, and the
// result is scaled back to the image's size: a wide blur at a fraction of
// its cost (transform.EffectiveBlur picks sigma and shrink).
func (i *Image) Blur(sigma, shrink float64) (*Image, error) {
	var out *C.VipsImage
	return i.step("blur", C.imgedge_gaussblur(i.im, &out, C.double(sigma), C.double(shrink)), out)
}

// Rotate turns the image clockwise by 90, 180 or 270 degrees.
func (i *Image) Rotate(degrees int) (*Image, error) {
	var out *C.VipsImage
	return i.step("rotate", C.imgedge_rot(i.im, &out, C.int(degrees)), out)
}

// Flip mirrors the image left-right (horizontal) or top-bottom.
func (i *Image) Flip(horizontal bool) (*Image, error) {
	var out *C.VipsImage
	return i.step("flip", C.imgedge_flip(i.im, &out, cbool(horizontal)), out)
}

// Sample shrinks the image to at most size pixels a side and returns its
// pixels as 8-bit sRGB with alpha (non-premultiplied), for placeholders.
// It is stopped as Save is, by ctx or after timeout.
func (i *Image) Sample(ctx context.Context, size int, timeout time.Duration) (*image.NRGBA, error) {
	var buf unsafe.Pointer
	var n C.size_t
	var w, h C.int
	err := i.evaluate(ctx, timeout, "sample", func() C.int {
		return C.imgedge_sample(i.im, C.int(size), &buf, &n, &w, &h)
	})
	if buf != nil {
		defer C.g_free(C.gpointer(buf))
	}
	if err != nil {
		return nil, err
	}
	img := image.NewNRGBA(image.Rect(0, 0, int(w), int(h)))
	if int(n) != len(img.Pix) {
		return nil, fmt.Errorf("sample: %d bytes for %dx%d", n, w, h)
	}
	copy(img.Pix, unsafe.Slice((*byte)(buf), int(n)))
	return img, nil
}

// Composite lays mark over the image at (x, y), its alpha times opacity
// (0..1). The image keeps its bands: an alpha band only if it had one.
func (i *Image) Composite(mark *Image, x, y int, opacity float64) (*Image, error) {
	var out *C.VipsImage
	return i.step("composite", C.imgedge_composite(i.im, mark.im, &out, C.int(x), C.int(y), C.double(opacity)), out)
}

// Adjust makes a colour adjustment of the colour bands: v*mul + add (add
// in fractions of full scale), then v^(1/gamma), then the saturation
// (CSS's saturate() matrix). (1, 0, 1, 1) changes nothing.
func (i *Image) Adjust(mul, add, gamma, saturation float64) (*Image, error) {
	var out *C.VipsImage
	return i.step("adjust", C.imgedge_adjust(i.im, &out, C.double(mul), C.double(add), C.double(gamma), C.double(saturation)), out)
}

// Sharpen applies an unsharp mask of the given sigma.
func (i *Image) Sharpen(sigma float64) (*Image, error) {
	var out *C.VipsImage
	return i.step("sharpen", C.imgedge_sharpen(i.im, &out, C.double(sigma)), out)
}

// Metadata is the metadata policy.
type Metadata = transform.Metadata

// cFormat is shim.h's name for an output format; ok is false for a format
// libvips is not asked to write.
func cFormat(f Format) (c C.int, ok bool) {
	switch f {
	case transform.JPEG:
		return C.IMGEDGE_JPEG, true
	case transform.PNG:
		return C.IMGEDGE_PNG, true
	case transform.WEBP:
		return C.IMGEDGE_WEBP, true
	case transform.AVIF:
		return C.IMGEDGE_AVIF, true
	case transform.GIF:
		return C.IMGEDGE_GIF, true
	}
	return 0, false
}

// encoderID is cFormat as a plain int, for tests.
func encoderID(f Format) (int, bool) {
	c, ok := cFormat(f)
	return int(c), ok
}

// cMetadata is shim.h's name for a metadata policy.
func cMetadata(m Metadata) C.int {
	switch m {
	case transform.MetadataCopyright:
		return C.IMGEDGE_META_COPYRIGHT
	case transform.MetadataKeep:
		return C.IMGEDGE_META_KEEP
	}
	return C.IMGEDGE_META_NONE
}

// SaveOptions configure Save.
type SaveOptions struct {
	Format   Format
	Quality  int // 1..100, JPEG/WebP/AVIF
	Effort   int // encoder effort: PNG/WebP 0..6, AVIF 0..9, GIF 1..10
	Metadata Metadata
	// Interlace writes a progressive JPEG.
	Interlace bool
	// Timeout bounds the whole evaluation (decoding, every step and the
	// encoding run while saving); 0 means none.
	Timeout time.Duration
}

// ErrTimeout is returned by Save when the evaluation ran past its Timeout.
var ErrTimeout = errors.New("processing took longer than allowed")

// Save encodes the image and closes it. The evaluation stops when
// o.Timeout passes (ErrTimeout) or ctx is done (ctx.Err()); libvips notices
// at the start of its next tile, so a stop takes about one tile's work.
func (i *Image) Save(ctx context.Context, o SaveOptions) ([]byte, error) {
	defer i.Close()
	format, ok := cFormat(o.Format)
	if !ok {
		return nil, &Error{Op: "encode", Detail: "no encoder for " + o.Format.String()}
	}
	var ptr unsafe.Pointer
	var n C.size_t
	err := i.evaluate(ctx, o.Timeout, "encode "+o.Format.String(), func() C.int {
		return C.imgedge_save(i.im, format, C.int(o.Quality), C.int(o.Effort), cMetadata(o.Metadata), cbool(o.Interlace), &ptr, &n)
	})
	if ptr != nil {
		defer C.g_free(C.gpointer(ptr))
	}
	if err != nil {
		return nil, err
	}
	return C.GoBytes(ptr, C.int(n)), nil
}

// evaluate runs run, which computes the image's pixels, stopping it when
// ctx is done or timeout (if set) passes; the error says which, or how
// run failed.
func (i *Image) evaluate(ctx context.Context, timeout time.Duration, what string, run func() C.int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := &killer{im: i.im}
	if timeout > 0 {
		t := time.AfterFunc(timeout, func() { k.kill(ErrTimeout) })
		defer t.Stop()
	}
	defer context.AfterFunc(ctx, func() { k.kill(ctx.Err()) })()
	rc := run()
	if err := k.stop(); err != nil {
		// A flag nobody picked up means every tile was computed before
		// it was set. One that was picked up failed a tile, even when
		// libvips 8.14 reports success: its threadpool reads the error
		// before the last workers finish (fixed in 8.15.4, b3ce0a900).
		if rc != 0 || C.imgedge_take_kill(i.im) == 0 {
			C.vips_error_clear()
			return err
		}
	}
	if rc != 0 {
		return lastError(what)
	}
	return nil
}

// killer stops one evaluation from other goroutines (a timer, a context).
// Its lock orders every kill before Save takes the image back, so the
// flag is never set on an image that may be gone.
type killer struct {
	mu     sync.Mutex
	im     *C.VipsImage // nil once the evaluation is over
	reason error
}

// kill asks libvips to stop; the first reason wins.
func (k *killer) kill(reason error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.im != nil && k.reason == nil {
		k.reason = reason
		C.imgedge_kill(k.im)
	}
}

// stop ends the evaluation's exposure to kill and reports why it was
// killed, if it was.
func (k *killer) stop() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.im = nil
	return k.reason
}

// Trim gives the free memory inside glibc's heaps back to the kernel
// (malloc_trim). libvips' many small tile buffers fragment the heap, and
// glibc only returns its top on its own; call this now and then, off the
// request path.
func Trim() { C.malloc_trim(0) }

// Error is a libvips failure. Its message is libvips' own and may name
// internals; show users a summary, log the detail.
type Error struct {
	Op     string
	Detail string
}

func (e *Error) Error() string { return fmt.Sprintf("vips %s: %s", e.Op, e.Detail) }

func lastError(op string) error {
	// The buffer is shared by every thread: take and clear it at once.
	buf := C.vips_error_buffer_copy()
	detail := strings.TrimSpace(C.GoString(buf))
	C.g_free(C.gpointer(buf))
	if detail == "" {
		detail = "unknown error"
	}
	return &Error{Op: op, Detail: detail}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
