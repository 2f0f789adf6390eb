package metering

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Record is the usage of one answered image request.
type Record struct {
	Tenant       string
	Time         time.Time // when the request was answered; zero means now
	Status       int
	CacheStatus  string // "hit", "miss", "collapsed", "bypass"
	SourceBytes  int64
	OutputBytes  int64
	OutputPixels int64
	CPU          time.Duration // resize time
	Wall         time.Duration
	Zone, Node   string
	Forwarded    bool
}

// CloudEvents types shipped by the edge and accepted by the collector.
const (
	TypeRequest = "com.imgedge.usage.request" // one answered request
	TypeRollup  = "com.imgedge.usage.rollup"  // sums of requests counted in memory

	// BatchContentType is the media type of a CloudEvents JSON batch.
	BatchContentType = "application/cloudevents-batch+json"
)

// Event is one CloudEvent 1.0 in structured JSON mode, as shipped in a batch.
// Subject is the tenant.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Time            time.Time `json:"time"`
	Subject         string    `json:"subject"`
	DataContentType string    `json:"datacontenttype,omitempty"`
	Batch           string    `json:"imgedgebatch,omitempty"`
	Data            EventData `json:"data"`
}

// EventData is the data of a request or rollup event. Requests and Hits are
// set on rollups only; a request event counts as one request, and as one hit
// when CacheStatus is "hit".
type EventData struct {
	Tenant       string  `json:"tenant"`
	Status       int     `json:"status,omitempty"`
	CacheStatus  string  `json:"cache_status,omitempty"`
	SourceBytes  int64   `json:"source_bytes"`
	OutputBytes  int64   `json:"output_bytes"`
	OutputPixels int64   `json:"output_pixels"`
	CPUMillis    float64 `json:"cpu_ms"`
	WallMillis   float64 `json:"wall_ms"`
	Zone         string  `json:"zone,omitempty"`
	Node         string  `json:"node,omitempty"`
	Forwarded    bool    `json:"forwarded"`
	Requests     int64   `json:"requests,omitempty"`
	Hits         int64   `json:"hits,omitempty"`
}

// requests is how many requests the event stands for.
func (e *Event) requests() int64 {
	if e.Type == TypeRollup {
		return e.Data.Requests
	}
	return 1
}

// hits is how many cache hits the event stands for.
func (e *Event) hits() int64 {
	if e.Type == TypeRollup {
		return e.Data.Hits
	}
	if e.Data.CacheStatus == "hit" {
		return 1
	}
	return 0
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// newEventID returns a fresh time-ordered event id.
func newEventID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// requestEvent builds the event for r.
func requestEvent(source string, r *Record) Event {
	return Event{
		SpecVersion:     "1.0",
		ID:              newEventID(),
		Source:          source,
		Type:            TypeRequest,
		Time:            r.Time.UTC(),
		Subject:         r.Tenant,
		DataContentType: "application/json",
		Data: EventData{
			Tenant:       r.Tenant,
			Status:       r.Status,
			CacheStatus:  r.CacheStatus,
			SourceBytes:  r.SourceBytes,
			OutputBytes:  r.OutputBytes,
			OutputPixels: r.OutputPixels,
			CPUMillis:    millis(r.CPU),
			WallMillis:   millis(r.Wall),
			Zone:         r.Zone,
			Node:         r.Node,
			Forwarded:    r.Forwarded,
		},
	}
}

// encodeEventFrame appends the journal frame of e to dst.
func encodeEventFrame(dst []byte, e *Event) ([]byte, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return dst, err
	}
	return appendFrame(dst, kindEvent, body), nil
}
