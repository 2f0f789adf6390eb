package metering

import (
	"time"

	"go.uber.org/zap"
)

// rollupKey groups in-memory usage by tenant and hour, so the rollup events
// written later still land in the right hourly buckets.
type rollupKey struct {
	tenant string
	hour   int64 // Unix hours
}

// rollup is the usage of requests that could not be journalled.
type rollup struct {
	first        time.Time
	requests     int64
	hits         int64
	sourceBytes  int64
	outputBytes  int64
	outputPixels int64
	cpu, wall    time.Duration
}

// degradeLocked counts r in memory because journalling it failed with err.
func (m *Meter) degradeLocked(r *Record, err error) {
	k := rollupKey{tenant: r.Tenant, hour: r.Time.Unix() / 3600}
	ru := m.rollups[k]
	if ru == nil {
		ru = &rollup{first: r.Time}
		m.rollups[k] = ru
	}
	if r.Time.Before(ru.first) {
		ru.first = r.Time
	}
	ru.requests++
	if r.CacheStatus == "hit" {
		ru.hits++
	}
	ru.sourceBytes += r.SourceBytes
	ru.outputBytes += r.OutputBytes
	ru.outputPixels += r.OutputPixels
	ru.cpu += r.CPU
	ru.wall += r.Wall
	m.stats.Degraded++
	m.stats.DegradedPending++
	if !m.degraded {
		m.degraded = true
		m.log.Warn("metering: cannot journal usage, counting it in memory until the spool has room",
			zap.Error(err), zap.Int64("spool_bytes", m.spoolBytes), zap.Int64("spool_max_bytes", m.cfg.SpoolMaxBytes))
	}
}

// flushRollupsLocked writes in-memory usage to the journal as rollup events,
// as far as the spool has room.
func (m *Meter) flushRollupsLocked() {
	for k, ru := range m.rollups {
		ev := Event{
			SpecVersion:     "1.0",
			ID:              newEventID(),
			Source:          m.cfg.Source,
			Type:            TypeRollup,
			Time:            ru.first.UTC(),
			Subject:         k.tenant,
			DataContentType: "application/json",
			Data: EventData{
				Tenant:       k.tenant,
				SourceBytes:  ru.sourceBytes,
				OutputBytes:  ru.outputBytes,
				OutputPixels: ru.outputPixels,
				CPUMillis:    millis(ru.cpu),
				WallMillis:   millis(ru.wall),
				Requests:     ru.requests,
				Hits:         ru.hits,
			},
		}
		frame, err := encodeEventFrame(nil, &ev)
		if err == nil {
			err = m.appendLocked(frame)
		}
		if err != nil {
			return
		}
		delete(m.rollups, k)
		m.stats.DegradedPending -= ru.requests
	}
	if m.degraded {
		m.degraded = false
		m.log.Info("metering: spool has room again; in-memory usage written as rollup events",
			zap.Int64("requests_counted_in_memory", m.stats.Degraded))
	}
}
