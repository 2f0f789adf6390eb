package metering

import "time"

// Record is the usage of one answered image request.
type Record struct {
	Tenant       string
	Time         time.Time // when the request was answered; zero means now
	Status       int
	CacheStatus  string // "hit", "miss", "collapsed", "bypass"; "hit" counts as a cache hit
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
	// TypeRequest is one answered request. The edge ships rollups; the
	// collector accepts request events too, from other producers.
	TypeRequest = "com.imgedge.usage.request"
	// TypeRollup sums the requests of one group (tenant, minute, zone, node,
	// cache status, status, forwarded); Data.Requests and Data.Hits count
	// them, the event time is the start of the minute.
	TypeRollup = "com.imgedge.usage.rollup"

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
// when CacheStatus is "hit". Both are always written, 0 included, so a
// meter that sums them (OpenMeter's SUM with a valueProperty) finds them in
// every rollup.
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
	Requests     int64   `json:"requests"`
	Hits         int64   `json:"hits"`
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
	if e.Data.CacheStatus == cacheHit {
		return 1
	}
	return 0
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
