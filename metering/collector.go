package metering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Collector is the HTTP side of the usage collector. It routes by path
// suffix:
//
//	POST .../api/v1/events   ingest a CloudEvents JSON batch
//	GET  .../api/v1/usage    ?tenant=&from=&to=&step= (RFC 3339 times,
//	                         Go durations; defaults: the last 24h, step 1h)
//
// An ingested batch is answered 2xx only once it is committed; a bad batch
// is refused whole with 400 and {"error": ..., "event": <index>}.
type Collector struct {
	// Store keeps the events (required).
	Store Store
	// MaxBodyBytes limits a batch body; larger ones get 413. Default 10 MiB.
	MaxBodyBytes int64
	// Logger receives store failures. Default zap.NewNop().
	Logger *zap.Logger
	// Now is the clock for the default usage range. Default time.Now.
	Now func() time.Time
}

// problem is the JSON body of every error answer.
type problem struct {
	Error string `json:"error"`
	Event *int   `json:"event,omitempty"` // index of the offending event
}

// ingestResult is the JSON body of an accepted batch.
type ingestResult struct {
	Received int `json:"received"`
	New      int `json:"new"`
}

func (c *Collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/api/v1/events"):
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, problem{Error: "use POST"})
			return
		}
		c.ingest(w, r)
	case strings.HasSuffix(r.URL.Path, "/api/v1/usage"):
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, problem{Error: "use GET"})
			return
		}
		c.usage(w, r)
	default:
		writeJSON(w, http.StatusNotFound, problem{Error: "not found"})
	}
}

func (c *Collector) logger() *zap.Logger {
	if c.Logger == nil {
		return zap.NewNop()
	}
	return c.Logger
}

func (c *Collector) ingest(w http.ResponseWriter, r *http.Request) {
	if c.Store == nil {
		writeJSON(w, http.StatusInternalServerError, problem{Error: "collector has no store"})
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != BatchContentType {
		writeJSON(w, http.StatusBadRequest, problem{Error: "Content-Type must be " + BatchContentType})
		return
	}
	limit := c.MaxBodyBytes
	if limit <= 0 {
		limit = 10 << 20
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeJSON(w, http.StatusRequestEntityTooLarge, problem{Error: fmt.Sprintf("batch larger than %d bytes", limit)})
			return
		}
		writeJSON(w, http.StatusBadRequest, problem{Error: "reading body: " + err.Error()})
		return
	}
	events, idx, err := DecodeBatch(body)
	if err != nil {
		p := problem{Error: err.Error()}
		if idx >= 0 {
			p.Event = &idx
		}
		writeJSON(w, http.StatusBadRequest, p)
		return
	}
	n, err := c.Store.Insert(r.Context(), events)
	if err != nil {
		c.logger().Error("metering: storing usage batch", zap.Int("events", len(events)), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, problem{Error: "storing the batch failed; retry"})
		return
	}
	writeJSON(w, http.StatusOK, ingestResult{Received: len(events), New: n})
}

func (c *Collector) usage(w http.ResponseWriter, r *http.Request) {
	if c.Store == nil {
		writeJSON(w, http.StatusInternalServerError, problem{Error: "collector has no store"})
		return
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	q, err := parseUsageQuery(r, now())
	if err == nil {
		err = q.validate()
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, problem{Error: err.Error()})
		return
	}
	buckets, err := c.Store.Usage(r.Context(), q)
	if err != nil {
		c.logger().Error("metering: usage query", zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, problem{Error: "usage query failed"})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Buckets []Bucket `json:"buckets"`
	}{buckets})
}

// parseUsageQuery reads tenant, from, to and step. Without from, the range
// is the 24 hours before to, starting on a step boundary.
func parseUsageQuery(r *http.Request, now time.Time) (Query, error) {
	v := r.URL.Query()
	q := Query{Tenant: v.Get("tenant"), To: now, Step: time.Hour}
	if s := v.Get("step"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return q, fmt.Errorf("step %q is not a positive duration like 1m or 1h", s)
		}
		q.Step = d
	}
	if s := v.Get("to"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("to %q is not an RFC 3339 time", s)
		}
		q.To = t
	}
	if s := v.Get("from"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("from %q is not an RFC 3339 time", s)
		}
		q.From = t
	} else {
		q.From = q.To.Add(-24 * time.Hour).Truncate(q.Step)
	}
	return q, nil
}

// wireEvent is an incoming event, with pointers to tell missing from empty.
type wireEvent struct {
	SpecVersion     *string         `json:"specversion"`
	ID              *string         `json:"id"`
	Source          *string         `json:"source"`
	Type            *string         `json:"type"`
	Time            *string         `json:"time"`
	Subject         *string         `json:"subject"`
	DataContentType *string         `json:"datacontenttype"`
	Batch           string          `json:"imgedgebatch"`
	Data            json.RawMessage `json:"data"`
}

// maxAttr bounds ids, sources and tenants.
const maxAttr = 512

// DecodeBatch parses and checks a CloudEvents JSON batch of usage events.
// On error, index is the offending event, or -1 for the batch as a whole.
func DecodeBatch(body []byte) (events []Event, index int, err error) {
	if !json.Valid(body) {
		return nil, -1, errors.New("body is not JSON")
	}
	if trimmed := bytes.TrimSpace(body); trimmed[0] != '[' {
		return nil, -1, errors.New("batch must be a JSON array of CloudEvents")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, -1, fmt.Errorf("body is not a JSON array: %v", err)
	}
	events = make([]Event, len(raws))
	for i, raw := range raws {
		if err := decodeEvent(raw, &events[i]); err != nil {
			return nil, i, err
		}
	}
	return events, -1, nil
}

func decodeEvent(raw json.RawMessage, e *Event) error {
	var w wireEvent
	if err := json.Unmarshal(raw, &w); err != nil {
		return fmt.Errorf("event is not a JSON object: %v", err)
	}
	for _, a := range []struct {
		name string
		v    *string
	}{{"specversion", w.SpecVersion}, {"id", w.ID}, {"source", w.Source}, {"type", w.Type}, {"subject", w.Subject}, {"time", w.Time}} {
		if a.v == nil || *a.v == "" {
			return fmt.Errorf("missing %s", a.name)
		}
		if len(*a.v) > maxAttr {
			return fmt.Errorf("%s longer than %d bytes", a.name, maxAttr)
		}
	}
	if *w.SpecVersion != "1.0" {
		return fmt.Errorf("unsupported specversion %q", *w.SpecVersion)
	}
	if *w.Type != TypeRequest && *w.Type != TypeRollup {
		return fmt.Errorf("unknown event type %q", *w.Type)
	}
	t, err := time.Parse(time.RFC3339Nano, *w.Time)
	if err != nil {
		return fmt.Errorf("time %q is not RFC 3339", *w.Time)
	}
	if w.DataContentType != nil && *w.DataContentType != "" {
		if mt, _, err := mime.ParseMediaType(*w.DataContentType); err != nil || mt != "application/json" {
			return fmt.Errorf("datacontenttype %q is not application/json", *w.DataContentType)
		}
	}
	if len(w.Data) == 0 || bytes.Equal(w.Data, []byte("null")) {
		return errors.New("missing data")
	}
	var d EventData
	if err := json.Unmarshal(w.Data, &d); err != nil {
		return fmt.Errorf("bad data: %v", err)
	}
	if d.Tenant == "" {
		d.Tenant = *w.Subject
	} else if d.Tenant != *w.Subject {
		return fmt.Errorf("data.tenant %q does not match subject %q", d.Tenant, *w.Subject)
	}
	if err := checkData(*w.Type, &d); err != nil {
		return err
	}
	*e = Event{
		SpecVersion:     *w.SpecVersion,
		ID:              *w.ID,
		Source:          *w.Source,
		Type:            *w.Type,
		Time:            t.UTC(),
		Subject:         *w.Subject,
		DataContentType: "application/json",
		Batch:           w.Batch,
		Data:            d,
	}
	return nil
}

func checkData(typ string, d *EventData) error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"status", float64(d.Status)},
		{"source_bytes", float64(d.SourceBytes)},
		{"output_bytes", float64(d.OutputBytes)},
		{"output_pixels", float64(d.OutputPixels)},
		{"cpu_ms", d.CPUMillis},
		{"wall_ms", d.WallMillis},
		{"requests", float64(d.Requests)},
		{"hits", float64(d.Hits)},
	} {
		if f.v < 0 {
			return fmt.Errorf("data.%s is negative", f.name)
		}
	}
	if typ == TypeRollup {
		if d.Requests < 1 {
			return errors.New("rollup data.requests must be at least 1")
		}
		if d.Hits > d.Requests {
			return errors.New("rollup data.hits exceeds data.requests")
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
