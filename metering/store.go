package metering

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store keeps usage events and answers usage queries.
type Store interface {
	// Insert stores the events of one batch atomically and idempotently: a
	// replayed batch or event changes nothing. Events are keyed by (source,
	// id), as CloudEvents says. It returns how many events were new.
	Insert(ctx context.Context, events []Event) (int, error)
	// Usage sums events into buckets per tenant.
	Usage(ctx context.Context, q Query) ([]Bucket, error)
	Close() error
}

// Query selects usage. Events with From <= time < To are summed into buckets
// Step long, aligned to multiples of Step since the Unix epoch. Tenant ""
// means all tenants.
type Query struct {
	Tenant   string
	From, To time.Time
	Step     time.Duration
}

// Bucket is the usage of one tenant in [Start, Start+Step).
type Bucket struct {
	Tenant    string    `json:"tenant"`
	Start     time.Time `json:"start"`
	Requests  int64     `json:"requests"`
	Hits      int64     `json:"hits"`
	BytesIn   int64     `json:"bytes_in"`
	BytesOut  int64     `json:"bytes_out"`
	Pixels    int64     `json:"pixels"`
	CPUMillis float64   `json:"cpu_ms"`
	HitRatio  float64   `json:"hit_ratio"` // Hits / Requests
	// Saturated is set when a total is past what an int64 holds: it is
	// answered as 9223372036854775807, the largest int64, instead.
	Saturated bool `json:"saturated,omitempty"`
}

// maxBuckets bounds one query's answer per tenant.
const maxBuckets = 100000

func (q Query) validate() error {
	switch {
	case q.Step <= 0:
		return errors.New("step must be positive")
	case !q.To.After(q.From):
		return errors.New("to must be after from")
	case q.To.Sub(q.From)/q.Step > maxBuckets:
		return fmt.Errorf("more than %d buckets: use a larger step or a shorter range", maxBuckets)
	}
	return nil
}

// The SQL both stores share. Placeholders are written $n (PostgreSQL);
// the SQLite store rewrites them to ?n. Times are Unix nanoseconds.
var schemaSQL = []string{
	`CREATE TABLE IF NOT EXISTS usage_events (
		source       TEXT             NOT NULL,
		id           TEXT             NOT NULL,
		batch        TEXT             NOT NULL,
		type         TEXT             NOT NULL,
		tenant       TEXT             NOT NULL,
		time_ns      BIGINT           NOT NULL,
		status       INTEGER          NOT NULL,
		cache_status TEXT             NOT NULL,
		requests     BIGINT           NOT NULL,
		hits         BIGINT           NOT NULL,
		bytes_in     BIGINT           NOT NULL,
		bytes_out    BIGINT           NOT NULL,
		pixels       BIGINT           NOT NULL,
		cpu_ms       DOUBLE PRECISION NOT NULL,
		wall_ms      DOUBLE PRECISION NOT NULL,
		zone         TEXT             NOT NULL,
		node         TEXT             NOT NULL,
		forwarded    BOOLEAN          NOT NULL,
		PRIMARY KEY (source, id)
	)`,
	`CREATE INDEX IF NOT EXISTS usage_events_tenant_time ON usage_events (tenant, time_ns)`,
	`CREATE INDEX IF NOT EXISTS usage_events_time ON usage_events (time_ns)`,
}

const insertSQL = `INSERT INTO usage_events (source, id, batch, type, tenant, time_ns, status, cache_status,
	requests, hits, bytes_in, bytes_out, pixels, cpu_ms, wall_ms, zone, node, forwarded)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
	ON CONFLICT (source, id) DO NOTHING`

// usageSQL sums the integer columns in limbs (see limbSums), so that no sum
// overflows however large the stored values; scanBuckets joins them.
var usageSQL = `SELECT tenant, (time_ns / $1) * $1 AS bucket,
	` + limbSums("requests") + `, ` + limbSums("hits") + `,
	` + limbSums("bytes_in") + `, ` + limbSums("bytes_out") + `, ` + limbSums("pixels") + `,
	CAST(SUM(` + clampedMillis("cpu_ms") + `) AS DOUBLE PRECISION)
	FROM usage_events
	WHERE time_ns >= $2 AND time_ns < $3 AND ($4 = '' OR tenant = $4)
	GROUP BY tenant, bucket
	ORDER BY bucket, tenant`

func insertArgs(e *Event) []any {
	return []any{
		e.Source, e.ID, e.Batch, e.Type, e.Subject, e.Time.UnixNano(),
		e.Data.Status, e.Data.CacheStatus, e.requests(), e.hits(),
		e.Data.SourceBytes, e.Data.OutputBytes, e.Data.OutputPixels,
		e.Data.CPUMillis, e.Data.WallMillis, e.Data.Zone, e.Data.Node, e.Data.Forwarded,
	}
}

func usageArgs(q Query) []any {
	return []any{int64(q.Step), q.From.UnixNano(), q.To.UnixNano(), q.Tenant}
}

// rowScanner is the part of sql.Rows and pgx.Rows that scanBuckets needs.
type rowScanner interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

func scanBuckets(rows rowScanner) ([]Bucket, error) {
	out := []Bucket{}
	for rows.Next() {
		var b Bucket
		var start int64
		var limbs [5][3]int64
		dest := []any{&b.Tenant, &start}
		for i := range limbs {
			dest = append(dest, &limbs[i][0], &limbs[i][1], &limbs[i][2])
		}
		if err := rows.Scan(append(dest, &b.CPUMillis)...); err != nil {
			return nil, err
		}
		b.Start = time.Unix(0, start).UTC()
		for i, total := range []*int64{&b.Requests, &b.Hits, &b.BytesIn, &b.BytesOut, &b.Pixels} {
			var held bool
			*total, held = joinLimbs(limbs[i][0], limbs[i][1], limbs[i][2])
			b.Saturated = b.Saturated || held
		}
		if b.Requests > 0 {
			b.HitRatio = float64(b.Hits) / float64(b.Requests)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}
