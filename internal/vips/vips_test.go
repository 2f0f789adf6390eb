package vips_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/testimages"
	"github.com/imgedge/imgedge/internal/vips"
	"github.com/imgedge/imgedge/transform"
)

// slowJob is an image whose encoding takes tens of seconds on one core: a
// 2000x1500 source under a Gaussian blur of sigma 250.
func slowJob(t *testing.T) *vips.Image {
	t.Helper()
	img, err := vips.Thumbnail(testimages.JPEG(testimages.Gradient(2000, 1500)), vips.ThumbnailOptions{Width: 2000, Height: transform.Unbounded})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = img.Blur(250, 1); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestSaveStopsTheEvaluation(t *testing.T) {
	// Uncancelled, each job runs for tens of seconds; stopped, libvips
	// finishes the tile in hand (well under a second) and gives up.
	const promptly = 5 * time.Second
	tests := []struct {
		name    string
		cancel  time.Duration // cancel the context after this long; 0: never
		timeout time.Duration
		want    error
	}{
		{name: "a cancelled context stops it with context.Canceled", cancel: 100 * time.Millisecond, want: context.Canceled},
		{name: "the timeout stops it with ErrTimeout", timeout: 100 * time.Millisecond, want: vips.ErrTimeout},
		{name: "whichever comes first wins", cancel: 100 * time.Millisecond, timeout: time.Hour, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := slowJob(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel > 0 {
				time.AfterFunc(tt.cancel, cancel)
			}
			start := time.Now()
			body, err := img.Save(ctx, vips.SaveOptions{Format: transform.JPEG, Quality: 80, Timeout: tt.timeout})
			if took := time.Since(start); took > promptly {
				t.Errorf("took %v to stop", took)
			}
			if !errors.Is(err, tt.want) || body != nil {
				t.Fatalf("got %d bytes, %v; want %v", len(body), err, tt.want)
			}
		})
	}
}

func TestSaveWithADoneContextEvaluatesNothing(t *testing.T) {
	img := slowJob(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, err := img.Save(ctx, vips.SaveOptions{Format: transform.JPEG}); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v", took)
	}
}

func TestThumbnailCopiesTheSource(t *testing.T) {
	// libvips decodes lazily, while saving: the bytes Thumbnail was given
	// must not be read after it returns.
	src := testimages.JPEG(testimages.Gradient(96, 64))
	save := func(buf []byte, scribble bool) []byte {
		img, err := vips.Thumbnail(buf, vips.ThumbnailOptions{Width: 48, Height: transform.Unbounded})
		if err != nil {
			t.Fatal(err)
		}
		if scribble {
			for i := range buf {
				buf[i] = 0xff
			}
		}
		body, err := img.Save(context.Background(), vips.SaveOptions{Format: transform.PNG, Effort: 4, Metadata: transform.MetadataNone})
		if err != nil {
			t.Fatal(err)
		}
		return body
	}
	want := save(bytes.Clone(src), false)
	if got := save(bytes.Clone(src), true); !bytes.Equal(got, want) {
		t.Fatal("the output changed with the caller's bytes after Thumbnail returned")
	}
}
