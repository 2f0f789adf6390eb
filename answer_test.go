package imgedge

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/imgedge/imgedge/imaging"
	"github.com/imgedge/imgedge/internal/process"
	"github.com/imgedge/imgedge/transform"
	"github.com/imgedge/imgedge/variant"
)

// Every error the engine can return is answered with the status that
// names whose fault it is, and a JSON body.
func TestErrorsAreAnsweredWithTheirStatus(t *testing.T) {
	m, err := process.RegisterMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	ir := &ImageResize{logger: zap.NewNop(), metrics: m, node: "n", engine: &variant.Engine{Store: variant.NewStore(nil)}}
	for _, tc := range []struct {
		err    error
		status int
	}{
		{errors.New("something nobody expected"), http.StatusInternalServerError},
		{fmt.Errorf("wrapped: %w", errors.New("a bug")), http.StatusInternalServerError},
		{variant.ErrBusy, http.StatusServiceUnavailable},
		{&transform.Error{Param: "blur", Msg: "too expensive"}, http.StatusBadRequest},
		{&imaging.Error{Kind: imaging.Unsupported, Msg: "unsupported"}, http.StatusUnsupportedMediaType},
		{&imaging.Error{Kind: imaging.TooSlow, Msg: "too slow"}, http.StatusUnprocessableEntity},
		{&imaging.Error{Kind: imaging.Undecodable, Msg: "broken"}, http.StatusUnprocessableEntity},
	} {
		rec := httptest.NewRecorder()
		rq := &imageRequest{ir: ir, w: rec, r: httptest.NewRequest("GET", "/p.jpg?w=1", nil), start: time.Now()}
		rq.refuseError(tc.err)
		var body struct{ Error string }
		if rec.Code != tc.status || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body.Error == "" {
			t.Errorf("%v: %d %s, want %d with a JSON error", tc.err, rec.Code, rec.Body, tc.status)
		}
	}
}
