package imgedge

import (
	"context"
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

func TestTheFetchWriterUnwrapsToTheClient(t *testing.T) {
	client := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
	lease, err := budget.New(1<<20, 1).Acquire(context.Background(), 1024)
	if err != nil {
		t.Fatal(err)
	}
	fw := newFetchWriter(context.Background(), client, 1<<20, lease, time.Second)
	fw.Header().Set("Content-Type", "text/html")
	fw.WriteHeader(http.StatusOK) // not an image: passed through
	if err := http.NewResponseController(fw).SetWriteDeadline(time.Now().Add(time.Second)); err != nil || client.deadlines != 1 {
		t.Fatalf("SetWriteDeadline through the controller: %v, %d reached the client", err, client.deadlines)
	}
	shared := newFetchWriter(context.Background(), nil, 1<<20, lease, time.Second)
	if err := http.NewResponseController(shared).SetWriteDeadline(time.Now()); err == nil {
		t.Fatal("a shared fetch, with no client, claims to set a deadline")
	}
}
