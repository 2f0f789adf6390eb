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
	"unicode/utf8"

	"go.uber.org/zap"
)

// Collector is the HTTP side of the usage collector. It routes by path
// suffix:
//
//	POST .../api/v1/events   ingest a CloudEvents JSON batch
//	GET  .../api/v1/usage    ?tenant=&from=&to=&step= (RFC 3339 times,
//	                         Go durations; defaults: the last 24h, step 1h)
//
// A batch is read as a stream, one event at a time, and bounded in bytes
// and in events before anything is kept. Events that are well-formed are
// stored, committed together, and answered 200 only once committed; an
// event that is not (a number in its data that is negative, not an integer
// where one is due, or over its per-event maximum, such as
// MaxEventRequests, included) is refused alone and named in the answer's
// "refused" list. A batch whose events are all refused, or more than a
// thousand of them, gets 400, one that is not a JSON array 400, and one over the
// bounds 413; none of those stores anything. The Collector does no authentication: put it behind Caddy's
// basic_auth or a bearer-token matcher (see the README).
type Collector struct {
	// Store keeps the events (required).
	Store Store
	// MaxBodyBytes limits a batch body; larger ones get 413. Default 10 MiB.
	MaxBodyBytes int64
	// MaxEvents limits the events of one batch; more get 413. Default
	// 10000 (an edge sends one rollup per tenant and minute, so a batch
	// rarely holds more than a few hundred).
	MaxEvents int
	// Logger receives store failures. Default zap.NewNop().
	Logger *zap.Logger
	// Now is the clock for the default usage range. Default time.Now.
	Now func() time.Time
}

// Defaults of the Collector's bounds.
const (
	DefaultMaxBodyBytes = 10 << 20
	DefaultMaxEvents    = 10000
)

// problem is the JSON body of every error answer.
type problem struct {
	Error   string    `json:"error"`
	Event   *int      `json:"event,omitempty"`   // index of the offending event
	Refused []Refusal `json:"refused,omitempty"` // every refused event
}

// Refusal names an event of a batch that was not stored, and why.
type Refusal struct {
	Event int    `json:"event"` // index in the batch, from 0
	Error string `json:"error"`
}

// IngestResult is the JSON body of an accepted batch: how many events it
// held, how many of them were stored for the first time (a replayed event
// counts once, on its first delivery), and the events refused.
type IngestResult struct {
	Received int       `json:"received"`
	New      int       `json:"new"`
	Refused  []Refusal `json:"refused,omitempty"`
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
		limit = DefaultMaxBodyBytes
	}
	maxEvents := c.MaxEvents
	if maxEvents <= 0 {
		maxEvents = DefaultMaxEvents
	}
	tooLarge := problem{Error: fmt.Sprintf("batch larger than %d bytes", limit)}
	if r.ContentLength > limit {
		writeJSON(w, http.StatusRequestEntityTooLarge, tooLarge)
		return
	}
	events, refused, err := decodeBatch(http.MaxBytesReader(w, r.Body, limit), maxEvents)
	if err != nil {
		_, isTooLarge := errors.AsType[*http.MaxBytesError](err)
		switch {
		case isTooLarge:
			writeJSON(w, http.StatusRequestEntityTooLarge, tooLarge)
		case errors.Is(err, errTooManyEvents):
			writeJSON(w, http.StatusRequestEntityTooLarge, problem{Error: fmt.Sprintf("batch of more than %d events", maxEvents)})
		default:
			writeJSON(w, http.StatusBadRequest, problem{Error: err.Error()})
		}
		return
	}
	if len(events) == 0 && len(refused) > 0 {
		first := refused[0]
		writeJSON(w, http.StatusBadRequest, problem{Error: "no event accepted: " + first.Error, Event: &first.Event, Refused: refused})
		return
	}
	n, err := c.Store.Insert(r.Context(), events)
	if err != nil {
		c.logger().Error("metering: storing usage batch", zap.Int("events", len(events)), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusServiceUnavailable, problem{Error: "storing the batch failed; retry"})
		return
	}
	if len(refused) > 0 {
		c.logger().Warn("metering: refused some events of a usage batch; stored the rest",
			zap.Int("events", len(events)+len(refused)), zap.Int("refused", len(refused)),
			zap.Int("first_refused", refused[0].Event), zap.String("reason", refused[0].Error))
	}
	writeJSON(w, http.StatusOK, IngestResult{Received: len(events) + len(refused), New: n, Refused: refused})
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

// maxReason bounds the text of one refusal, which may quote the event.
const maxReason = 200

// maxRefused is how many bad events a batch may hold before it is refused
// whole: a producer that sends that many is broken, and the list of
// refusals must not grow with the body.
const maxRefused = 1000

var (
	errTooManyEvents = errors.New("too many events")
	errNotObject     = errors.New("event is not a JSON object")
)

// batchError is a batch that cannot be read at all.
type batchError struct{ msg string }

func (e *batchError) Error() string { return e.msg }

// decodeBatch reads a CloudEvents JSON batch from r one event at a time,
// so memory grows with the events kept, not with the body, and stops with
// errTooManyEvents past maxEvents. Events that do not decode or check are
// refused one by one. An error is for the batch as a whole: not a JSON
// array (a *batchError), too many events, or r's own error (such as
// *http.MaxBytesError).
func decodeBatch(r io.Reader, maxEvents int) (events []Event, refused []Refusal, err error) {
	dec := json.NewDecoder(r)
	readErr := func(err error) error {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return err
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return &batchError{"body is not JSON: it ends early"}
		}
		if _, ok := errors.AsType[*json.SyntaxError](err); ok {
			return &batchError{"body is not JSON: " + err.Error()}
		}
		return err
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, readErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, nil, &batchError{"batch must be a JSON array of CloudEvents"}
	}
	for i := 0; dec.More(); i++ {
		if i >= maxEvents {
			return nil, nil, errTooManyEvents
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, readErr(err)
		}
		var e Event
		if err := decodeEvent(raw, &e); err != nil {
			if len(refused) == maxRefused {
				return nil, nil, &batchError{fmt.Sprintf("more than %d bad events; the first, event %d: %s", maxRefused, refused[0].Event, refused[0].Error)}
			}
			refused = append(refused, Refusal{Event: i, Error: truncate(err.Error(), maxReason)})
			continue
		}
		events = append(events, e)
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, nil, readErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, readErr(err)
		}
		return nil, nil, &batchError{"body is not JSON: data after the batch"}
	}
	return events, refused, nil
}

// truncate cuts s to at most n bytes, on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func decodeEvent(raw json.RawMessage, e *Event) error {
	if len(raw) == 0 || raw[0] != '{' {
		return errNotObject
	}
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
	if !time.Unix(0, t.UnixNano()).Equal(t) { // stored as Unix nanoseconds
		return fmt.Errorf("time %q is out of range: want a year from 1678 to 2262", *w.Time)
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
		return dataError(err)
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
	if err := checkLimits(d); err != nil {
		return err
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
