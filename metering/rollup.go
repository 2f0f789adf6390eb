package metering

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"

	"go.uber.org/zap"
)

// cacheHit is the cache status that counts as a hit.
const cacheHit = "hit"

// groupKey is what one rollup event sums over: the records of one tenant in
// one minute with the same zone, node, cache status, status and forwarding.
// In practice the cache statuses and statuses are a handful of values, so
// a segment folds into a few events per tenant and minute.
type groupKey struct {
	tenant      string
	minute      int64 // Unix nanoseconds of the minute's start
	zone, node  string
	cacheStatus string
	status      int
	forwarded   bool
}

// usageSums are the sums of a group.
type usageSums struct {
	requests, hits           int64
	sourceBytes, outputBytes int64
	outputPixels             int64
	cpuNs, wallNs            int64
}

func (s *usageSums) add(d *decodedRecord) {
	s.requests += d.requests
	s.hits += d.hits
	s.sourceBytes += d.sourceBytes
	s.outputBytes += d.outputBytes
	s.outputPixels += d.outputPixels
	s.cpuNs += d.cpuNs
	s.wallNs += d.wallNs
}

// rollup is one group of a segment and its sums. keyBytes identify the
// group within the segment (the minute and the encoded group fields): the
// event id is derived from them.
type rollup struct {
	key      groupKey
	keyBytes []byte
	usageSums
}

// segmentUsage is what a sealed segment holds, ready to ship.
type segmentUsage struct {
	rollups []*rollup
	legacy  [][]byte // JSON request events written by an older version
	bad     int      // frames with a valid checksum that did not decode
}

// aggregate folds the frames of a segment into one rollup per group, in
// the order the groups first appear. The result depends only on data, so
// a segment aggregated again gives the same rollups.
func aggregate(data []byte) segmentUsage {
	var (
		u     segmentUsage
		index = make(map[string]int)
		key   []byte
		d     decodedRecord
	)
	scanFrames(data, func(kind byte, body []byte) {
		switch kind {
		case kindRecord, kindSums:
		case kindEvent:
			if len(body) > 2 && body[0] == '{' {
				u.legacy = append(u.legacy, body)
			}
			return
		default:
			return
		}
		if err := decodeRecord(kind, body, &d); err != nil {
			u.bad++
			return
		}
		key = binary.LittleEndian.AppendUint64(key[:0], uint64(minuteOf(d.time)))
		key = append(key, d.group...)
		i, ok := index[string(key)]
		if !ok {
			i = len(u.rollups)
			index[string(key)] = i
			u.rollups = append(u.rollups, &rollup{
				keyBytes: append([]byte(nil), key...),
				key: groupKey{
					tenant:      string(d.tenant),
					minute:      minuteOf(d.time),
					zone:        string(d.zone),
					node:        string(d.node),
					cacheStatus: string(d.cache),
					status:      d.status,
					forwarded:   d.forwarded,
				},
			})
		}
		u.rollups[i].add(&d)
	})
	return u
}

// rollupID is the stable event id of a group of a segment: the segment's id
// and a digest of the group.
func rollupID(segID string, keyBytes []byte) string {
	sum := sha256.Sum256(keyBytes)
	return segID + "-" + hex.EncodeToString(sum[:16])
}

// event is the CloudEvent of a rollup of the segment segID.
func (r *rollup) event(source, segID string) Event {
	return Event{
		SpecVersion:     "1.0",
		ID:              rollupID(segID, r.keyBytes),
		Source:          source,
		Type:            TypeRollup,
		Time:            time.Unix(0, r.key.minute).UTC(),
		Subject:         r.key.tenant,
		DataContentType: "application/json",
		Batch:           segID,
		Data: EventData{
			Tenant:       r.key.tenant,
			Status:       r.key.status,
			CacheStatus:  r.key.cacheStatus,
			SourceBytes:  r.sourceBytes,
			OutputBytes:  r.outputBytes,
			OutputPixels: r.outputPixels,
			CPUMillis:    millis(time.Duration(r.cpuNs)),
			WallMillis:   millis(time.Duration(r.wallNs)),
			Zone:         r.key.zone,
			Node:         r.key.node,
			Forwarded:    r.key.forwarded,
			Requests:     r.requests,
			Hits:         r.hits,
		},
	}
}

// degradeLocked counts r in memory because journalling it failed with err.
// It is summed by the same groups as the rollups, so it is shipped with the
// same time resolution once it is written to the journal.
func (m *Meter) degradeLocked(r *Record, err error) {
	k := groupKey{
		tenant:      r.Tenant,
		minute:      minuteOf(r.Time.UnixNano()),
		zone:        r.Zone,
		node:        r.Node,
		cacheStatus: r.CacheStatus,
		status:      r.Status,
		forwarded:   r.Forwarded,
	}
	s := m.rollups[k]
	if s == nil {
		s = new(usageSums)
		m.rollups[k] = s
	}
	d := decodedRecord{
		sourceBytes:  r.SourceBytes,
		outputBytes:  r.OutputBytes,
		outputPixels: r.OutputPixels,
		cpuNs:        int64(r.CPU),
		wallNs:       int64(r.Wall),
		recordSums:   recordSums{requests: 1},
	}
	if r.CacheStatus == cacheHit {
		d.hits = 1
	}
	s.add(&d)
	m.stats.Degraded++
	m.stats.DegradedPending++
	if !m.degraded {
		m.degraded = true
		m.log.Warn("metering: cannot journal usage, counting it in memory until the spool has room",
			zap.Error(err), zap.Int64("spool_bytes", m.spoolBytes), zap.Int64("spool_max_bytes", m.cfg.SpoolMaxBytes))
	}
}

// flushRollupsLocked writes in-memory usage to the journal as kindSums
// records, as far as the spool has room.
func (m *Meter) flushRollupsLocked() {
	for k, s := range m.rollups {
		r := Record{
			Tenant:       k.tenant,
			Time:         time.Unix(0, k.minute),
			Status:       k.status,
			CacheStatus:  k.cacheStatus,
			SourceBytes:  s.sourceBytes,
			OutputBytes:  s.outputBytes,
			OutputPixels: s.outputPixels,
			CPU:          time.Duration(s.cpuNs),
			Wall:         time.Duration(s.wallNs),
			Zone:         k.zone,
			Node:         k.node,
			Forwarded:    k.forwarded,
		}
		frame := appendRecordFrame(m.scratch[:0], &r, &recordSums{requests: s.requests, hits: s.hits})
		m.scratch = frame[:0]
		if m.appendLocked(frame) != nil {
			return
		}
		delete(m.rollups, k)
		m.stats.DegradedPending -= s.requests
	}
	if m.degraded {
		m.degraded = false
		m.log.Info("metering: spool has room again; in-memory usage written to the journal",
			zap.Int64("requests_counted_in_memory", m.stats.Degraded))
	}
}
