package vips_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

// chunks splits a WebP file into its RIFF chunks by FourCC.
func chunks(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		t.Fatalf("not a WebP file: % x", b[:min(len(b), 12)])
	}
	out := map[string][]byte{}
	for at := 12; at+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[at+4:]))
		end := min(at+8+n, len(b))
		out[string(b[at:at+4])] = b[at+8 : end]
		at = end + n%2
	}
	return out
}

func TestAStrippedWebPHasNoMetadataAndTheSameImageData(t *testing.T) {
	// libvips 8.14 writes an EXIF chunk even when told to strip; imgedge
	// encodes a still image itself with libvips' configuration: the same
	// VP8 (and ALPH) data, without the EXIF.
	sources := map[string][]byte{
		"RGB":  photo(t, "kite.jpg", 640, 400),
		"RGBA": photoPNG(t, "cups.jpg", 640, 400, true),
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			save := func(m transform.Metadata) []byte {
				img, err := vips.Thumbnail(src, vips.ThumbnailOptions{Width: 320, Height: transform.Unbounded})
				if err != nil {
					t.Fatal(err)
				}
				b, err := img.Save(context.Background(), vips.SaveOptions{Format: transform.WEBP, Quality: 80, Effort: 4, Metadata: m})
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			stripped, kept := chunks(t, save(transform.MetadataNone)), chunks(t, save(transform.MetadataKeep))
			if _, ok := stripped["EXIF"]; ok {
				t.Error("the stripped WebP has an EXIF chunk")
			}
			if _, ok := kept["EXIF"]; !ok {
				t.Error("libvips' own WebP (metadata kept) has no EXIF chunk: is the workaround still needed?")
			}
			if len(stripped["VP8 "]) == 0 || !bytes.Equal(stripped["VP8 "], kept["VP8 "]) {
				t.Errorf("VP8 data differs from libvips' (%d and %d bytes)", len(stripped["VP8 "]), len(kept["VP8 "]))
			}
			if name == "RGBA" && (len(stripped["ALPH"]) == 0 || !bytes.Equal(stripped["ALPH"], kept["ALPH"])) {
				t.Errorf("alpha data differs from libvips' (%d and %d bytes)", len(stripped["ALPH"]), len(kept["ALPH"]))
			}
		})
	}
}

func TestAnAnimatedWebPStaysWithLibvips(t *testing.T) {
	img, err := vips.Thumbnail(testimages.AnimatedGIF(64, 48, 3), vips.ThumbnailOptions{Width: 32, Height: transform.Unbounded, AllPages: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := img.Save(context.Background(), vips.SaveOptions{Format: transform.WEBP, Quality: 80, Effort: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := chunks(t, b)["ANIM"]; !ok {
		t.Error("an animation lost its frames")
	}
}
