package transform

import "testing"

// Accept headers that browsers and tools send for <img> requests.
const (
	acceptChrome    = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8" // Chrome and Edge
	acceptFirefox   = "image/avif,image/webp,*/*"
	acceptSafari16  = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"
	acceptOldSafari = "image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5"
	acceptCurl      = "*/*"
)

var (
	srcJPEG      = Source{Format: JPEG}
	srcPNG       = Source{Format: PNG}
	srcPNGAlpha  = Source{Format: PNG, HasAlpha: true}
	srcGIF       = Source{Format: GIF}
	srcAnimGIF   = Source{Format: GIF, Animated: true}
	srcAnimWebP  = Source{Format: WEBP, Animated: true}
	srcAnimGIF40 = Source{Format: GIF, Animated: true, Width: 40, Height: 30}
	srcWebP      = Source{Format: WEBP}
	srcWebPAlpha = Source{Format: WEBP, HasAlpha: true}
	srcAVIF      = Source{Format: AVIF}
	srcTIFF      = Source{Format: TIFF}
	srcTIFFAlpha = Source{Format: TIFF, HasAlpha: true}
	srcHEIF      = Source{Format: HEIF}
	srcHEIFAlpha = Source{Format: HEIF, HasAlpha: true}
	srcSVG       = Source{Format: SVG}
)

func TestOutputFormat(t *testing.T) {
	tests := []struct {
		name   string
		query  string
		accept string
		src    Source
		want   Format
		vary   bool
	}{
		// f=auto: negotiated from Accept, always Vary: Accept.
		{"Chrome and Edge get AVIF", "f=auto", acceptChrome, srcJPEG, AVIF, true},
		{"Firefox gets AVIF", "f=auto", acceptFirefox, srcJPEG, AVIF, true},
		{"Safari 16 gets AVIF although it lists WebP first", "f=auto", acceptSafari16, srcJPEG, AVIF, true},
		{"old Safari gets the JPEG family for a JPEG", "f=auto", acceptOldSafari, srcJPEG, JPEG, true},
		{"old Safari gets PNG for a PNG with alpha", "f=auto", acceptOldSafari, srcPNGAlpha, PNG, true},
		{"old Safari gets PNG for a PNG", "f=auto", acceptOldSafari, srcPNG, PNG, true},
		{"curl gets the JPEG family for a JPEG", "f=auto", acceptCurl, srcJPEG, JPEG, true},
		{"curl gets PNG for a PNG with alpha", "f=auto", acceptCurl, srcPNGAlpha, PNG, true},
		{"no Accept header gets the source family", "f=auto", "", srcJPEG, JPEG, true},
		{"image/* alone is no promise of AVIF or WebP", "f=auto", "image/*", srcJPEG, JPEG, true},
		{"image/avif;q=0 refuses AVIF", "f=auto", "image/avif;q=0", srcJPEG, JPEG, true},
		{"image/avif;q=0 refuses AVIF but WebP is still taken", "f=auto", "image/avif;q=0,image/webp,*/*", srcJPEG, WEBP, true},
		{"q=0.0 refuses too", "f=auto", "image/avif;q=0.0,image/webp;q=0.000,*/*", srcJPEG, JPEG, true},
		{"an upper-case Q parameter refuses too", "f=auto", "image/avif;Q=0,image/webp", srcJPEG, WEBP, true},
		{"a low but non-zero q still accepts", "f=auto", "image/avif;q=0.1,*/*", srcJPEG, AVIF, true},
		{"WebP alone gets WebP", "f=auto", "image/webp,*/*;q=0.8", srcJPEG, WEBP, true},
		{"upper-case media types are understood", "f=auto", "IMAGE/AVIF,IMAGE/WEBP,*/*", srcJPEG, AVIF, true},
		{"spaces around media types and parameters are understood", "f=auto", " image/webp ; q=0.9 , image/avif ; q = 0.5 ", srcJPEG, AVIF, true},
		{"fm=auto negotiates too", "fm=auto", acceptChrome, srcPNGAlpha, AVIF, true},
		{"auto=format negotiates", "auto=format", acceptChrome, srcJPEG, AVIF, true},
		{"auto=format,compress negotiates", "auto=format,compress", acceptFirefox, srcJPEG, AVIF, true},
		{"auto=format for old Safari gets the source family", "auto=format", acceptOldSafari, srcJPEG, JPEG, true},

		{"an animated GIF skips AVIF for WebP in Chrome", "f=auto", acceptChrome, srcAnimGIF, WEBP, true},
		{"an animated GIF skips AVIF for WebP in Safari 16", "f=auto", acceptSafari16, srcAnimGIF, WEBP, true},
		{"an animated GIF stays GIF in old Safari", "f=auto", acceptOldSafari, srcAnimGIF, GIF, true},
		{"an animated GIF stays GIF for curl", "f=auto", acceptCurl, srcAnimGIF, GIF, true},
		{"an animated GIF without WebP support stays GIF even with AVIF accepted", "f=auto", "image/avif,*/*", srcAnimGIF, GIF, true},
		{"an animated WebP stays WebP in Firefox", "f=auto", acceptFirefox, srcAnimWebP, WEBP, true},
		{"a region of an animation is one frame: AVIF is fine", "f=auto&rect=0,0,20,15", acceptChrome, srcAnimGIF40, AVIF, true},
		{"a trimmed animation is one frame: AVIF is fine", "f=auto&trim=2%3B2%3B2%3B2", acceptChrome, srcAnimGIF40, AVIF, true},
		{"a region that is the whole animation keeps its frames", "f=auto&rect=0,0,40,30", acceptChrome, srcAnimGIF40, WEBP, true},
		{"a still GIF gets AVIF in Chrome", "f=auto", acceptChrome, srcGIF, AVIF, true},

		{"a TIFF for old Safari becomes JPEG", "f=auto", acceptOldSafari, srcTIFF, JPEG, true},
		{"a TIFF with alpha for old Safari becomes PNG", "f=auto", acceptOldSafari, srcTIFFAlpha, PNG, true},
		{"a HEIF for curl becomes JPEG", "f=auto", acceptCurl, srcHEIF, JPEG, true},
		{"an SVG for curl becomes PNG", "f=auto", acceptCurl, srcSVG, PNG, true},
		{"a WebP original is not sent as WebP to a browser without WebP", "f=auto", acceptOldSafari, srcWebP, JPEG, true},
		{"a WebP original with alpha is not sent as WebP to a browser without WebP", "f=auto", acceptOldSafari, srcWebPAlpha, PNG, true},
		{"an AVIF original is not sent as AVIF to a client without AVIF", "f=auto", acceptCurl, srcAVIF, JPEG, true},
		{"an AVIF original goes to WebP for a browser with WebP only", "f=auto", "image/webp,*/*", srcAVIF, WEBP, true},

		// No f: the source's family, whatever Accept says; no Vary.
		{"without f a JPEG stays JPEG", "", acceptChrome, srcJPEG, JPEG, false},
		{"without f a PNG with alpha stays PNG", "w=400", acceptChrome, srcPNGAlpha, PNG, false},
		{"without f a PNG stays PNG", "", acceptOldSafari, srcPNG, PNG, false},
		{"without f a GIF stays GIF", "", acceptChrome, srcAnimGIF, GIF, false},
		{"without f a WebP stays WebP", "", acceptChrome, srcWebP, WEBP, false},
		{"without f an AVIF stays AVIF", "", acceptChrome, srcAVIF, AVIF, false},
		{"without f a TIFF becomes JPEG", "", acceptChrome, srcTIFF, JPEG, false},
		{"without f a TIFF with alpha becomes PNG", "", acceptChrome, srcTIFFAlpha, PNG, false},
		{"without f a HEIF becomes JPEG", "", acceptSafari16, srcHEIF, JPEG, false},
		{"without f a HEIF with alpha becomes PNG", "", acceptSafari16, srcHEIFAlpha, PNG, false},
		{"without f an SVG becomes PNG", "", acceptChrome, srcSVG, PNG, false},
		{"auto=compress alone keeps the source family", "auto=compress", acceptChrome, srcJPEG, JPEG, false},

		// An explicit format: Accept is not consulted, so no Vary.
		{"f=webp ignores Chrome's Accept", "f=webp", acceptChrome, srcJPEG, WEBP, false},
		{"f=webp ignores old Safari's Accept", "f=webp", acceptOldSafari, srcJPEG, WEBP, false},
		{"f=webp ignores an empty Accept", "f=webp", "", srcPNGAlpha, WEBP, false},
		{"fm=jpg turns a PNG with alpha into JPEG", "fm=jpg", acceptChrome, srcPNGAlpha, JPEG, false},
		{"format=png turns a JPEG into PNG", "format=png", acceptFirefox, srcJPEG, PNG, false},
		{"f=avif gives AVIF to a client that did not ask", "f=avif", acceptCurl, srcJPEG, AVIF, false},
		{"f=gif gives GIF", "f=gif", acceptChrome, srcAnimWebP, GIF, false},
		{"an explicit f wins over auto=format", "f=png&auto=format", acceptChrome, srcJPEG, PNG, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := mustParse(t, tt.query)
			got, vary := OutputFormat(o, tt.accept, tt.src)
			if got != tt.want || vary != tt.vary {
				t.Errorf("OutputFormat(%q, Accept %q, %+v) = %v, vary %v; want %v, vary %v",
					tt.query, tt.accept, tt.src, got, vary, tt.want, tt.vary)
			}
			if !got.Writable() {
				t.Errorf("OutputFormat chose %v, which imgedge cannot write", got)
			}
		})
	}
}

func TestFormatNames(t *testing.T) {
	tests := []struct {
		name     string
		f        Format
		str      string
		mime     string
		writable bool
	}{
		{"JPEG is image/jpeg and writable", JPEG, "jpeg", "image/jpeg", true},
		{"PNG is image/png and writable", PNG, "png", "image/png", true},
		{"WebP is image/webp and writable", WEBP, "webp", "image/webp", true},
		{"AVIF is image/avif and writable", AVIF, "avif", "image/avif", true},
		{"GIF is image/gif and writable", GIF, "gif", "image/gif", true},
		{"HEIF is image/heif and read only", HEIF, "heif", "image/heif", false},
		{"TIFF is image/tiff and read only", TIFF, "tiff", "image/tiff", false},
		{"SVG is image/svg+xml and read only", SVG, "svg", "image/svg+xml", false},
		{"an unknown format is octet-stream", FormatUnknown, "unknown", "application/octet-stream", false},
		{"f=auto is not a writable format", FormatAuto, "unknown", "application/octet-stream", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
			if got := tt.f.MIME(); got != tt.mime {
				t.Errorf("MIME() = %q, want %q", got, tt.mime)
			}
			if got := tt.f.Writable(); got != tt.writable {
				t.Errorf("Writable() = %v, want %v", got, tt.writable)
			}
		})
	}
}
