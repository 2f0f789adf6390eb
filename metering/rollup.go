package metering

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
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

// add adds d to s. A negative value (a caller's bug) counts as 0, as the
// collector refuses negative usage, and a sum is held at the int64 range
// instead of wrapping.
func (s *usageSums) add(d *decodedRecord) {
	s.requests = satAdd(s.requests, max(d.requests, 0))
	s.hits = satAdd(s.hits, max(d.hits, 0))
	s.sourceBytes = satAdd(s.sourceBytes, max(d.sourceBytes, 0))
	s.outputBytes = satAdd(s.outputBytes, max(d.outputBytes, 0))
	s.outputPixels = satAdd(s.outputPixels, max(d.outputPixels, 0))
	s.cpuNs = satAdd(s.cpuNs, max(d.cpuNs, 0))
	s.wallNs = satAdd(s.wallNs, max(d.wallNs, 0))
}

// maxParts bounds how many events one rollup is split into.
const maxParts = 1 << 16

// split divides s into the fewest parts that each fit the per-event
// maxima (MaxEventRequests and the others), every value shared out evenly,
// so the parts add up to s; nearly always that is s alone. Each part
// stands for at least one request, and there are at most maxParts of them:
// when that is not enough (absurd values, such as a request of 30 years'
// wall time), the parts are held at the maxima and held reports it.
func (s usageSums) split() (parts []usageSums, held bool) {
	s.hits = min(s.hits, s.requests)
	whole := s.fields()
	n := int64(1)
	for i, v := range whole {
		if *v > 0 {
			n = max(n, (*v-1)/usageMax[i]+1)
		}
	}
	n = min(n, max(s.requests, 1), maxParts)
	parts = make([]usageSums, n)
	for i := range parts {
		for j, f := range parts[i].fields() {
			v := *whole[j]
			*f = v / n
			if int64(i) < v%n {
				*f++
			}
			if *f > usageMax[j] {
				*f, held = usageMax[j], true
			}
		}
	}
	return parts, held
}

// fields are the sums, in the order of usageMax.
func (s *usageSums) fields() [7]*int64 {
	return [7]*int64{&s.requests, &s.hits, &s.sourceBytes, &s.outputBytes, &s.outputPixels, &s.cpuNs, &s.wallNs}
}

// usageMax are the per-event maxima of the fields of usageSums.
var usageMax = [7]int64{MaxEventRequests, MaxEventRequests, MaxEventBytes, MaxEventBytes, MaxEventPixels, maxEventNanos, maxEventNanos}

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

// events are the CloudEvents of a rollup of the segment segID: one, or
// several when its sums are over a per-event maximum (see split). The
// first has the rollup's id, the others that id and ".1", ".2"...; held
// reports usage held at the maxima. A status outside 0 to MaxStatus, which
// no HTTP answer has, is sent as 0 (unknown).
func (r *rollup) events(source, segID string) (evs []Event, held bool) {
	parts, held := r.split()
	id := rollupID(segID, r.keyBytes)
	status := r.key.status
	if status < 0 || status > MaxStatus {
		status = 0
	}
	evs = make([]Event, len(parts))
	for i, p := range parts {
		evs[i] = Event{
			SpecVersion:     "1.0",
			ID:              id,
			Source:          source,
			Type:            TypeRollup,
			Time:            time.Unix(0, r.key.minute).UTC(),
			Subject:         r.key.tenant,
			DataContentType: "application/json",
			Batch:           segID,
			Data: EventData{
				Tenant:       r.key.tenant,
				Status:       status,
				CacheStatus:  r.key.cacheStatus,
				SourceBytes:  p.sourceBytes,
				OutputBytes:  p.outputBytes,
				OutputPixels: p.outputPixels,
				CPUMillis:    millis(time.Duration(p.cpuNs)),
				WallMillis:   millis(time.Duration(p.wallNs)),
				Zone:         r.key.zone,
				Node:         r.key.node,
				Forwarded:    r.key.forwarded,
				Requests:     p.requests,
				Hits:         p.hits,
			},
		}
		if i > 0 {
			evs[i].ID = id + "." + strconv.Itoa(i)
		}
	}
	return evs, held
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
