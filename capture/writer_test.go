package capture

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/budget"
)

func TestTheWriterDecidesOnTheStatusLine(t *testing.T) {
	image := bytes.Repeat([]byte{0xff}, 1000)
	tests := []struct {
		name        string
		status      int
		contentType string
		length      string // Content-Length, if any
		body        []byte
		limit       int64 // of the Writer
		budget      int64 // of the process
		want        Mode
		writeErr    error
	}{
		{name: "an image is captured", status: 200, contentType: "image/jpeg", body: image, limit: 1 << 20, budget: 1 << 20, want: Buffering},
		{name: "application/octet-stream may be an image", status: 200, contentType: "application/octet-stream", body: image, limit: 1 << 20, budget: 1 << 20, want: Buffering},
		{name: "an image over the limit, by Content-Length", status: 200, contentType: "image/png", length: "1000", body: image, limit: 999, budget: 1 << 20, want: TooLarge, writeErr: ErrTooLarge},
		{name: "an image over the limit, as it arrives", status: 200, contentType: "image/png", body: image, limit: 999, budget: 1 << 20, want: TooLarge, writeErr: ErrTooLarge},
		{name: "an image over the budget's room", status: 200, contentType: "image/png", length: "1000", body: image, limit: 1 << 20, budget: 500, want: OverBudget, writeErr: ErrTooLarge},
		{name: "a page stops the route", status: 200, contentType: "text/html", body: []byte("<p>hi"), limit: 1 << 20, budget: 1 << 20, want: NotImage, writeErr: ErrNotImage},
		{name: "a 404 image is not an original", status: 404, contentType: "image/png", body: image, limit: 1 << 20, budget: 1 << 20, want: NotImage, writeErr: ErrNotImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lease, err := budget.New(tt.budget, 1).Acquire(context.Background(), min(tt.budget, 64))
			if err != nil {
				t.Fatal(err)
			}
			w := New(context.Background(), tt.limit, lease, 10*time.Millisecond)
			w.Header().Set("Content-Type", tt.contentType)
			w.Header().Set("X-Origin", "yes")
			if tt.length != "" {
				w.Header().Set("Content-Length", tt.length)
			}
			w.WriteHeader(http.StatusEarlyHints) // informational: not the answer
			w.WriteHeader(tt.status)
			_, err = w.Write(tt.body)
			if !errors.Is(err, tt.writeErr) {
				t.Fatalf("Write: %v, want %v", err, tt.writeErr)
			}
			if w.Mode() != tt.want {
				t.Fatalf("mode %d, want %d", w.Mode(), tt.want)
			}
			if tt.want == Buffering && !bytes.Equal(w.Body(), tt.body) {
				t.Fatalf("captured %d bytes, want %d", len(w.Body()), len(tt.body))
			}
		})
	}
}
