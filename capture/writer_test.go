package capture

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/imgedge/imgedge/internal/budget"
)

// deadlineRecorder counts the write deadlines that reach it through
// http.ResponseController, which finds them only by unwrapping.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	deadlines int
}

func (d *deadlineRecorder) SetWriteDeadline(time.Time) error { d.deadlines++; return nil }

func TestTheWriterUnwrapsToTheClient(t *testing.T) {
	client := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	lease, err := budget.New(1<<20, 1).Acquire(context.Background(), 1024)
	if err != nil {
		t.Fatal(err)
	}
	fw := New(context.Background(), client, 1<<20, lease, time.Second)
	fw.Header().Set("Content-Type", "text/html")
	fw.WriteHeader(http.StatusOK) // not an image: passed through
	if err := http.NewResponseController(fw).SetWriteDeadline(time.Now().Add(time.Second)); err != nil || client.deadlines != 1 {
		t.Fatalf("SetWriteDeadline through the controller: %v, %d reached the client", err, client.deadlines)
	}
	shared := New(context.Background(), nil, 1<<20, lease, time.Second)
	if err := http.NewResponseController(shared).SetWriteDeadline(time.Now()); err == nil {
		t.Fatal("a shared fetch, with no client, claims to set a deadline")
	}
}

func TestTheWriterDecidesOnTheStatusLine(t *testing.T) {
	image := bytes.Repeat([]byte{0xff}, 1000)
	tests := []struct {
		name        string
		status      int
		contentType string
		length      string // Content-Length, if any
		body        []byte
		shared      bool  // no client
		limit       int64 // of the Writer
		budget      int64 // of the process
		want        Mode
		writeErr    error
		toClient    int // the status the client got; 0: none
	}{
		{name: "an image is captured", status: 200, contentType: "image/jpeg", body: image, limit: 1 << 20, budget: 1 << 20, want: Buffering},
		{name: "application/octet-stream may be an image", status: 200, contentType: "application/octet-stream", body: image, limit: 1 << 20, budget: 1 << 20, want: Buffering},
		{name: "an image over the limit, by Content-Length", status: 200, contentType: "image/png", length: "1000", body: image, limit: 999, budget: 1 << 20, want: TooLarge, writeErr: ErrTooLarge},
		{name: "an image over the limit, as it arrives", status: 200, contentType: "image/png", body: image, limit: 999, budget: 1 << 20, want: TooLarge, writeErr: ErrTooLarge},
		{name: "an image over the budget's room", status: 200, contentType: "image/png", length: "1000", body: image, limit: 1 << 20, budget: 500, want: OverBudget, writeErr: ErrTooLarge},
		{name: "a page goes to the client as it is", status: 200, contentType: "text/html", body: []byte("<p>hi"), limit: 1 << 20, budget: 1 << 20, want: Passthrough, toClient: 200},
		{name: "a 404 image goes to the client as it is", status: 404, contentType: "image/png", body: image, limit: 1 << 20, budget: 1 << 20, want: Passthrough, toClient: 404},
		{name: "a page of a shared fetch stops the route", status: 200, contentType: "text/html", body: []byte("<p>hi"), shared: true, limit: 1 << 20, budget: 1 << 20, want: Passthrough, writeErr: ErrNotImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lease, err := budget.New(tt.budget, 1).Acquire(context.Background(), min(tt.budget, 64))
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			var client http.ResponseWriter = rec
			if tt.shared {
				client = nil
			}
			w := New(context.Background(), client, tt.limit, lease, 10*time.Millisecond)
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
			if w.PassedToClient() != (tt.toClient != 0) {
				t.Fatalf("PassedToClient %v", w.PassedToClient())
			}
			if tt.toClient != 0 && (rec.Code != tt.toClient || rec.Header().Get("X-Origin") != "yes" || !bytes.Equal(rec.Body.Bytes(), tt.body)) {
				t.Fatalf("the client got %d, X-Origin %q, %d bytes", rec.Code, rec.Header().Get("X-Origin"), rec.Body.Len())
			}
			if tt.toClient == 0 && rec.Body.Len() != 0 {
				t.Fatalf("the client got %d bytes of an answer it should not see", rec.Body.Len())
			}
		})
	}
}
